import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Testing
import WharfCore
import WharfDevnet
import WharfLivepeer

/// `GetOrchestrator` between Wharf's client and devnet orchestrators, and from the official SDK.
@Suite(.layer(.endToEnd), .needs("python3"), .needs("ffmpeg"), .timeLimit(.minutes(1))) struct DevnetOrchestratorTests {
    static let profile = DevnetOrchestratorProfile(
        name: "orch-test",
        region: "eu-west",
        prices: [.textToImage: 4_000, .llm: 25],
        transcodingPrice: nil,
        pixelsPerUnit: 10
    )

    @Test func clientReadsTheDevnetOffer() async throws {
        try await withOrchestrator(Self.profile) { orchestrator, address in
            let pins = CertificatePins()
            let offer = try await OrchestratorClient(trust: .firstUse(pins)).getOrchestrator(address)
            let httpPort = try await orchestrator.ports().http
            #expect(offer.transcoderURL.absoluteString == "https://127.0.0.1:\(httpPort)")
            #expect(offer.capabilities == [27, 33])
            #expect(
                offer.price(for: .textToImage, model: "SG161222/RealVisXL_V4.0_Lightning") == .init(pricePerUnit: 4_000, pixelsPerUnit: 10)
            )
            #expect(offer.offers(.llm, model: "meta-llama/Meta-Llama-3.1-8B-Instruct"))
            #expect(!offer.offers(.upscale, model: nil))
            let token = try #require(offer.authToken)
            #expect(!token.isExpired())
            #expect(abs(token.expiration.timeIntervalSinceNow - 30 * 60) < 5)
            #expect(pins.fingerprint(of: address) != nil)
        }
    }

    @Test func segmentsAreTranscodedWithRealFFmpeg() async throws {
        let transcoding = DevnetOrchestratorProfile(name: "orch-transcode", region: "eu-west", prices: [:], transcodingPrice: 3)
        try await withOrchestrator(transcoding) { _, address in
            let pins = CertificatePins()
            let offer = try await OrchestratorClient(trust: .firstUse(pins)).getOrchestrator(address)
            #expect(offer.capabilities.isSuperset(of: [0, 1, 2, 12]))
            #expect(offer.defaultPrice == .init(pricePerUnit: 3, pixelsPerUnit: 1))
            let directory = try TemporaryDirectory()
            let source = directory.file("source.ts")
            try await runFFmpeg([
                "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=1", "-c:v", "libx264", "-f", "mpegts", source,
            ])
            let client = AIJobClient(http: .shared)
            let profiles = [
                TranscodeProfile(name: "160p", width: 212, height: 160, bitrate: 200_000, fps: 10),
                TranscodeProfile(name: "120p-mp4", width: 160, height: 120, bitrate: 100_000, fps: 5, container: .mp4),
            ]
            let result = try await client.transcode(
                segment: try Data(contentsOf: URL(fileURLWithPath: source)),
                sequenceNumber: 7,
                duration: .seconds(1),
                profiles: profiles,
                manifestID: "job_transcode",
                to: offer,
                pinnedCertificate: pins.certificate(of: address),
                timeout: .seconds(30)
            )
            #expect(result.sequenceNumber == 7)
            // Pixels are what the transcoder encoded: width × height × frames it wrote (ffmpeg's rate
            // conversion may add a frame or two at 5 fps).
            #expect(result.renditions[0].pixels == 212 * 160 * 10)
            let smaller = result.renditions[1].pixels
            #expect(smaller % (160 * 120) == 0 && (5...8).contains(smaller / (160 * 120)))
            let mp4 = try await client.fetchResult(
                result.renditions[1].url,
                from: offer,
                pinnedCertificate: pins.certificate(of: address),
                timeout: .seconds(10)
            )
            #expect(mp4.contentType == "video/mp4")
            let file = directory.file("rendition.mp4")
            try mp4.data.write(to: URL(fileURLWithPath: file))
            let probe = try await runProcess(
                "ffprobe",
                ["-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", file]
            )
            #expect(probe.trimmingCharacters(in: .whitespacesAndNewlines) == "160,120")

            // A segment that is not media gets a TranscodeResult error, reported as such.
            let refused = await #expect(throws: WharfError.self) {
                try await client.transcode(
                    segment: Data("not a video".utf8),
                    sequenceNumber: 8,
                    duration: .seconds(1),
                    profiles: profiles,
                    manifestID: "job_transcode",
                    to: offer,
                    pinnedCertificate: pins.certificate(of: address),
                    timeout: .seconds(30)
                )
            }
            #expect(refused?.message.contains("could not transcode") == true)
        }
    }

    @Test func pipelinesCanBeForwardedToARealRunner() async throws {
        let router = Router()
        router.post("text-to-image") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1024 * 1024)
            let prompt = (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["prompt"] ?? ""
            let reply = #"{"images":[{"url":"data:image/png;base64,iVBORw0KGgo=","seed":1,"nsfw":false}],"prompt":"\#(prompt)"}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: reply)))
        }
        try await withHTTPServer(router) { port in
            let orchestrator = try DevnetOrchestrator(profile: Self.profile, runnerURL: URL(string: "http://127.0.0.1:\(port)")!)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await orchestrator.run() }
                defer { group.cancelAll() }
                let address = try await orchestrator.address()
                let pins = CertificatePins()
                let offer = try await OrchestratorClient(trust: .firstUse(pins)).getOrchestrator(address)
                let reply = try await AIJobClient(http: .shared).send(
                    .init(
                        pipeline: .textToImage,
                        body: OutgoingBody(Data(#"{"prompt":"a harbour","model_id":"SG161222/RealVisXL_V4.0_Lightning"}"#.utf8)),
                        contentType: "application/json",
                        manifestID: "job_forwarded"
                    ),
                    to: offer,
                    pinnedCertificate: pins.certificate(of: address),
                    timeout: .seconds(10)
                )
                #expect(reply.status == 200)
                let text = String(decoding: reply.body, as: UTF8.self)
                #expect(text.contains(#""prompt":"a harbour""#))
                #expect(text.contains("data:image/png;base64,"))
            }
        }
    }

    @Test func pinsSurviveARestartWithANewCertificate() async throws {
        let port = try freeLoopbackPort()
        let pins = CertificatePins()
        let client = OrchestratorClient(trust: .firstUse(pins))
        var fingerprints: [[UInt8]] = []
        for _ in 0..<2 {
            try await withOrchestrator(Self.profile, port: port) { _, address in
                _ = try await client.getOrchestrator(address)
                _ = try await client.getOrchestrator(address)  // reuses the pin
                fingerprints.append(try #require(pins.fingerprint(of: address)))
            }
        }
        #expect(fingerprints.count == 2)
        #expect(fingerprints[0] != fingerprints[1])
    }

    @Test func certificateAuthorityTrustAcceptsOnlyTheRightCertificate() async throws {
        try await withOrchestrator(Self.profile) { orchestrator, address in
            let right = OrchestratorClient(trust: .certificateAuthorities(pem: Array(orchestrator.identity.certificatePEM.utf8)))
            #expect(try await right.getOrchestrator(address).capabilities == [27, 33])
            let stranger = try SelfSignedIdentity.generate()
            let wrong = OrchestratorClient(trust: .certificateAuthorities(pem: Array(stranger.certificatePEM.utf8)))
            await #expect(throws: (any Error).self) { try await wrong.getOrchestrator(address) }
        }
    }

    @Test func faultsShowUpInTheOffer() async throws {
        try await withOrchestrator(Self.profile) { orchestrator, address in
            let client = OrchestratorClient(trust: .firstUse(CertificatePins()))
            orchestrator.setFaults { $0.expiredAuthTokens = true }
            let offer = try await client.getOrchestrator(address)
            #expect(offer.authToken?.isExpired() == true)
            orchestrator.setFaults {
                $0 = DevnetFaults()
                $0.failGetOrchestrator = true
            }
            await #expect(throws: (any Error).self) { try await client.getOrchestrator(address) }
        }
    }

    @Test func unreachableOrchestratorFailsWithinTheTimeout() async throws {
        let port = try freeLoopbackPort()
        let client = OrchestratorClient(trust: .firstUse(CertificatePins()), timeout: .seconds(2))
        let start = ContinuousClock.now
        await #expect(throws: (any Error).self) {
            try await client.getOrchestrator(OrchestratorAddress(host: "127.0.0.1", port: port))
        }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    /// Acceptance: the official Python SDK, as a client, reads a correct OrchestratorInfo.
    @Test func officialSDKReadsTheDevnetOrchestrator() async throws {
        try await withOrchestrator(Self.profile) { orchestrator, address in
            let httpPort = try await orchestrator.ports().http
            let result = try await runTool(
                "python3",
                [LivepeerWireTests.checker, LivepeerWireTests.reference, "sdk-get-orchestrator", "127.0.0.1:\(address.port)"]
            )
            #expect(result.status == 0, "\(result.output)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
            #expect(json["transcoder"] as? String == "https://127.0.0.1:\(httpPort)")
            let prices = json["capabilities_prices"] as? [[String: Any]] ?? []
            #expect(
                prices.contains {
                    $0["capability"] as? Int == 27 && $0["pricePerUnit"] as? String == "4000" && $0["pixelsPerUnit"] as? String == "10"
                }
            )
            let token = try #require(json["auth_token"] as? [String: Any])
            #expect((token["session_id"] as? String)?.isEmpty == false)
            let bitstring = (json["capabilities"] as? [String: Any])?["bitstring"] as? [String]
            #expect(bitstring == [String((UInt64(1) << 27) | (UInt64(1) << 33))])
        }
    }
}

/// Runs a devnet orchestrator for the duration of `body`.
func withOrchestrator(
    _ profile: DevnetOrchestratorProfile,
    port: Int = 0,
    _ body: (DevnetOrchestrator, OrchestratorAddress) async throws -> Void
) async throws {
    let orchestrator = try DevnetOrchestrator(profile: profile, port: port)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await orchestrator.run() }
        defer { group.cancelAll() }
        try await body(orchestrator, try await orchestrator.address())
    }
}

/// Runs ffmpeg quietly; throws with its error output when it fails.
func runFFmpeg(_ arguments: [String]) async throws {
    _ = try await runProcess("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y"] + arguments)
}

/// Runs a program from the PATH and returns its standard output.
func runProcess(_ program: String, _ arguments: [String]) async throws -> String {
    let output = try await Programs.run(program, arguments)
    guard output.status == 0 else { throw WharfError(.invalidArgument, "\(program) failed: \(output.standardError)") }
    return output.standardOutput
}
