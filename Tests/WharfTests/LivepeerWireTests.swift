import Foundation
import SwiftProtobuf
import Testing
import WharfCore

@testable import WharfLivepeer

/// Wharf's Livepeer protobuf definitions against Livepeer's own generated module (from the official
/// Python SDK, fetched by `scripts/livepeer-reference.sh`), and the parsing of `OrchestratorInfo`.
@Suite(.layer(.endToEnd), .needs("python3"), .needs("protoc")) struct LivepeerWireTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let reference = repository.appendingPathComponent(".build/livepeer-reference").path
    static let checker = repository.appendingPathComponent("Tests/WharfTests/Support/livepeer_wire_check.py").path

    @Test func everyMessageFieldAndMethodMatchesLivepeersDefinition() async throws {
        let directory = try TemporaryDirectory()
        let descriptorSet = directory.file("wharf.pb")
        let protoc = try await runTool(
            "protoc",
            [
                "--proto_path=\(Self.repository.path)/Protos", "--include_imports", "--descriptor_set_out=\(descriptorSet)",
                "livepeer_net.proto",
            ]
        )
        #expect(protoc.status == 0, "\(protoc.output)")
        let check = try await runTool("python3", [Self.checker, Self.reference, "compare", descriptorSet])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("23 messages, 116 fields, 3 methods: 0 mismatches"), "\(check.output)")
    }

    @Test func orchestratorInfoEncodedByWharfDecodesWithLivepeersModule() async throws {
        let bytes: Data = try Self.sampleInfo().serializedBytes()
        let decoded = try await runTool(
            "python3",
            [Self.checker, Self.reference, "decode", "OrchestratorInfo"],
            input: bytes.base64EncodedString()
        )
        #expect(decoded.status == 0, "\(decoded.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(decoded.output.utf8)) as? [String: Any])
        #expect(json["transcoder"] as? String == "https://127.0.0.1:8935")
        let prices = try #require(json["capabilities_prices"] as? [[String: Any]])
        #expect(prices.first?["capability"] as? Int == 27)
        #expect(prices.first?["constraint"] as? String == "stabilityai/sdxl-turbo")
        #expect(prices.first?["pricePerUnit"] as? String == "4768371")
        let token = try #require(json["auth_token"] as? [String: Any])
        #expect(token["session_id"] as? String == "session-1")
        #expect(token["expiration"] as? String == "1900000000")
        let capabilities = try #require(json["capabilities"] as? [String: Any])
        #expect((capabilities["capacities"] as? [String: Any])?["27"] as? Int == 2)
        let perCapability = (capabilities["constraints"] as? [String: Any])?["PerCapability"] as? [String: Any]
        let models = (perCapability?["27"] as? [String: Any])?["models"] as? [String: Any]
        #expect((models?["stabilityai/sdxl-turbo"] as? [String: Any])?["warm"] as? Bool == true)
    }

    @Test func segmentCredentialsCarryTheAuthTokenInLivepeersFormat() async throws {
        let offer = try OrchestratorOffer(Self.sampleInfo(), from: "test")
        let header = try LivepeerHeaders.segmentCredentials(authToken: #require(offer.authToken), manifestID: "job_1")
        let decoded = try await runTool("python3", [Self.checker, Self.reference, "decode", "SegData"], input: header)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(decoded.output.utf8)) as? [String: Any])
        #expect(json["manifestId"] as? String == Data("job_1".utf8).base64EncodedString())
        #expect((json["auth_token"] as? [String: Any])?["session_id"] as? String == "session-1")
    }

    @Test func offerReadsPricesCapabilitiesModelsAndToken() async throws {
        let offer = try OrchestratorOffer(serializedOrchestratorInfo: Self.sampleInfo().serializedBytes(), from: "orch-a")
        #expect(offer.transcoderURL.absoluteString == "https://127.0.0.1:8935")
        #expect(offer.capabilities == [0, 27, 33])
        #expect(offer.offers(.textToImage, model: "stabilityai/sdxl-turbo"))
        #expect(!offer.offers(.textToImage, model: "other/model"))
        #expect(!offer.offers(.upscale, model: nil))
        #expect(offer.capacities[27] == 2)
        let price = try #require(offer.price(for: .textToImage, model: "stabilityai/sdxl-turbo"))
        #expect(price == .init(pricePerUnit: 4_768_371, pixelsPerUnit: 1))
        #expect(offer.price(for: .llm, model: "any") == .init(pricePerUnit: 10, pixelsPerUnit: 1_000))
        let units: Int64 = 1024 * 576
        let expected: Int64 = 4_768_371 * units
        #expect(price.cost(units: units) == expected)
        #expect(OrchestratorOffer.Price(pricePerUnit: 10, pixelsPerUnit: 1_000).cost(units: 1_001) == 11)  // rounds up
        #expect(OrchestratorOffer.Price(pricePerUnit: .max, pixelsPerUnit: 1).cost(units: 2) == nil)
        #expect(offer.authToken?.sessionID == "session-1")
        #expect(offer.authToken?.isExpired(at: Date(timeIntervalSince1970: 1_899_999_990)) == true)
        #expect(offer.authToken?.isExpired(at: Date(timeIntervalSince1970: 1_800_000_000)) == false)
        #expect(!offer.requiresPayment)
    }

    @Test func unusableRepliesAreRefusedWithTheFieldNamed() async throws {
        var badURL = Self.sampleInfo()
        badURL.transcoder = "not a url"
        let urlError = #expect(throws: WharfError.self) { try OrchestratorOffer(badURL, from: "orch-b") }
        #expect(urlError?.message == "orchestrator orch-b: transcoder 'not a url' is not an http(s) URL")

        var zeroUnit = Self.sampleInfo()
        zeroUnit.capabilitiesPrices[0].pixelsPerUnit = 0
        let unitError = #expect(throws: WharfError.self) { try OrchestratorOffer(zeroUnit, from: "orch-c") }
        #expect(unitError?.message.contains("capabilities_prices[0] has pixelsPerUnit 0") == true)

        let garbage = #expect(throws: WharfError.self) {
            try OrchestratorOffer(serializedOrchestratorInfo: Data([0xFF, 0xFF, 0xFF]), from: "orch-d")
        }
        #expect(garbage?.message.contains("not a valid OrchestratorInfo") == true)
    }

    @Test func capabilityBitsRoundTrip() {
        let ids: Set<Int> = [0, 12, 27, 36, 63, 64, 130]
        let words = CapabilityBits.encode(ids)
        #expect(words.count == 3)
        #expect(CapabilityBits.decode(words) == ids)
        #expect(Pipeline(capabilityID: 33) == .llm)
        #expect(Pipeline.allCases.map(\.capabilityID) == Array(27...36))
    }

    static func sampleInfo() -> Net_OrchestratorInfo {
        Net_OrchestratorInfo.with { info in
            info.transcoder = "https://127.0.0.1:8935"
            info.capabilities = .with { capabilities in
                capabilities.bitstring = CapabilityBits.encode([0, 27, 33])
                capabilities.capacities = [27: 2, 33: 1]
                capabilities.version = "0.9.1"
                capabilities.constraints = .with {
                    $0.perCapability = [
                        27: .with {
                            $0.models = [
                                "stabilityai/sdxl-turbo": .with {
                                    $0.warm = true
                                    $0.capacity = 2
                                    $0.runnerVersion = "0.14.1"
                                }
                            ]
                        }
                    ]
                }
            }
            info.capabilitiesPrices = [
                .with {
                    $0.pricePerUnit = 4_768_371
                    $0.pixelsPerUnit = 1
                    $0.capability = 27
                    $0.constraint = "stabilityai/sdxl-turbo"
                },
                .with {
                    $0.pricePerUnit = 10
                    $0.pixelsPerUnit = 1_000
                    $0.capability = 33
                },
            ]
            info.authToken = .with {
                $0.token = Data(repeating: 7, count: 32)
                $0.sessionID = "session-1"
                $0.expiration = 1_900_000_000
            }
        }
    }
}

/// Runs a tool found on the PATH, feeding `input` on standard input; returns status and
/// stdout+stderr.
func runTool(_ tool: String, _ arguments: [String], input: String? = nil) async throws -> (status: Int32, output: String) {
    let output = try await Programs.run(tool, arguments, input: input ?? "")
    return (output.status, output.standardOutput + output.standardError)
}
