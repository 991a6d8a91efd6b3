import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import SwiftProtobuf
import Synchronization
import WharfCore
import WharfLivepeer

extension DevnetOrchestrator {
    /// The HTTPS side: `POST /<pipeline>`, `GET /stream/<id>/<file>` and the fault control endpoint
    /// `GET|POST /_devnet/faults`, and `GET /_devnet/stats` (requests so far, being handled, most at
    /// once, and the manifest ids of the last 100 requests).
    func makeHTTPApplication(port: Int, onListening: @escaping @Sendable (Int) -> Void) throws -> some ApplicationProtocol {
        let router = Router()
        for pipeline in Pipeline.allCases {
            router.post(RouterPath(pipeline.rawValue)) { request, context in
                try await self.handle(pipeline, request: request, context: context)
            }
        }
        router.post("segment") { request, context in
            try await self.transcode(request: request, context: context)
        }
        router.get("stream/:id/:file") { request, _ in
            if let target = self.faults.withLock({ $0.redirectResultsTo }) {
                return Response(status: .found, headers: [.location: target])
            }
            guard let found = self.runner.result(request.uri.path) else {
                return Self.plain(.notFound, "no such result (results are kept for ten minutes)")
            }
            let faults = self.faults.withLock { $0 }
            let contentType = faults.answerContentType ?? found.contentType
            if let size = faults.resultBytes {
                return Response(status: .ok, headers: [.contentType: contentType], body: Self.zeros(size))
            }
            return Response(
                status: .ok,
                headers: [.contentType: contentType],
                body: .init(byteBuffer: ByteBuffer(bytes: found.data))
            )
        }
        router.get("_devnet/stats") { _, _ in
            let (requests, active, peak) = self.statistics
            let manifests = String(
                decoding: (try? JSONEncoder().encode(self.manifestIDs.withLock { $0 })) ?? Data("[]".utf8),
                as: UTF8.self
            )
            let text = #"{"active":\#(active),"manifest_ids":\#(manifests),"peak_active":\#(peak),"requests":\#(requests)}"#
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: text))
            )
        }
        router.get("_devnet/faults") { _, _ in
            Self.faultsResponse(self.faults.withLock { $0 })
        }
        router.post("_devnet/faults") { request, context in
            let body = try await request.body.collect(upTo: 64 * 1024)
            do {
                let updated = try JSONDecoder().decode(DevnetFaults.self, from: Data(body.readableBytesView))
                self.setFaults { $0 = updated }
                return Self.faultsResponse(updated)
            } catch {
                return Self.plain(.badRequest, "invalid faults document: \(error)")
            }
        }
        let tls = try TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(NIOSSLCertificate(bytes: identity.certificateDER, format: .der))],
            privateKey: .privateKey(NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
        )
        return Application(
            router: router,
            server: try .tls(tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: profile.name),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    private func handle(_ pipeline: Pipeline, request: Request, context: some RequestContext) async throws -> Response {
        guard profile.prices[pipeline] != nil else {
            return Self.plain(.badRequest, "incompatible capabilities: \(pipeline.rawValue) is not offered")
        }
        beginRequest()
        defer { endRequest() }
        if let failure = try await admit() {
            return Self.plain(HTTPResponse.Status(code: failure.status), failure.message)
        }
        if let problem = credentialsProblem(request.headers[HTTPField.Name(LivepeerHeaders.segment)!]) {
            return Self.plain(.forbidden, problem)
        }
        if profile.requiresPayment {
            if let problem = paymentProblem(request.headers[HTTPField.Name(LivepeerHeaders.payment)!]) {
                return Self.plain(HTTPResponse.Status(code: 402), problem)
            }
            payments.withLock { $0 += 1 }
        }
        guard reserveCapacity() else {
            return Self.plain(.serviceUnavailable, "insufficient capacity")
        }
        defer { releaseCapacity() }
        if let failure = try await work() {
            return Self.plain(HTTPResponse.Status(code: failure.status), failure.message)
        }
        let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
        if let runnerURL {
            return try await forward(pipeline, body: body, contentType: request.headers[.contentType] ?? "", to: runnerURL)
        }
        let ports = try await ports()
        let faults = self.faults.withLock { $0 }
        let reply = await runner.run(
            pipeline,
            body: Data(body.readableBytesView),
            contentType: request.headers[.contentType] ?? "",
            baseURL: faults.resultBaseURL ?? "https://127.0.0.1:\(ports.http)"
        )
        let answer = faults.resultCopies > 1 ? Self.repeatingResults(reply.body, times: faults.resultCopies) : reply.body
        let headers: HTTPFields = [.contentType: faults.answerContentType ?? reply.contentType]
        if faults.endlessEvents, reply.contentType == "text/event-stream" {
            return Response(status: .ok, headers: headers, body: Self.endlessEvent())
        }
        if faults.dripInterval > .zero {
            return Response(
                status: HTTPResponse.Status(code: reply.status),
                headers: headers,
                body: Self.drip(answer, every: faults.dripInterval)
            )
        }
        return Response(
            status: HTTPResponse.Status(code: reply.status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: answer))
        )
    }

    /// An answer whose every result (`images[]`) is listed `times` times.
    private static func repeatingResults(_ answer: Data, times: Int) -> Data {
        guard var document = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any], let images = document["images"] as? [Any]
        else { return answer }
        document["images"] = Array(repeating: images, count: times).flatMap { $0 }
        return (try? JSONSerialization.data(withJSONObject: document)) ?? answer
    }

    /// `size` bytes of zeros, written 64 KiB at a time with no declared length.
    private static func zeros(_ size: Int64) -> ResponseBody {
        ResponseBody { writer in
            var left = size
            while left > 0 {
                let count = Int(min(left, 65_536))
                try await writer.write(ByteBuffer(repeating: 0, count: count))
                left -= Int64(count)
            }
            try await writer.finish(nil)
        }
    }

    /// `bytes` one at a time, `interval` apart.
    private static func drip(_ bytes: Data, every interval: Duration) -> ResponseBody {
        ResponseBody { writer in
            for byte in bytes {
                try await Task.sleep(for: interval)
                try await writer.write(ByteBuffer(bytes: [byte]))
            }
            try await writer.finish(nil)
        }
    }

    /// One `data:` line that never ends, 16 KiB every 10 ms, until the reader hangs up.
    private static func endlessEvent() -> ResponseBody {
        ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "data: "))
            while true {
                try await Task.sleep(for: .milliseconds(10))
                try await writer.write(ByteBuffer(repeating: UInt8(ascii: "a"), count: 16_384))
            }
        }
    }

    /// Relays a pipeline request to an ai-runner-compatible endpoint and its answer back.
    private func forward(_ pipeline: Pipeline, body: ByteBuffer, contentType: String, to runnerURL: URL) async throws -> Response {
        var outgoing = HTTPClientRequest(url: runnerURL.appendingPathComponent(pipeline.rawValue).absoluteString)
        outgoing.method = .POST
        outgoing.headers.add(name: "Content-Type", value: contentType)
        outgoing.body = .bytes(body)
        do {
            let reply = try await HTTPClient.shared.execute(outgoing, timeout: .minutes(10))
            let answer = try await reply.body.collect(upTo: 256 * 1024 * 1024)
            return Response(
                status: HTTPResponse.Status(code: Int(reply.status.code)),
                headers: [.contentType: reply.headers.first(name: "Content-Type") ?? "application/octet-stream"],
                body: .init(byteBuffer: answer)
            )
        } catch {
            logger.warning("runner unreachable", metadata: ["gw.devnet.runner": "\(runnerURL)", "error": "\(error)"])
            return Self.plain(.badGateway, "the AI runner at \(runnerURL) could not be reached")
        }
    }

    /// `POST /segment`: transcodes the body into the profiles `Livepeer-Segment` asks for and answers a
    /// protobuf `TranscodeResult` whose renditions are served under `/stream/`.
    private func transcode(request: Request, context: some RequestContext) async throws -> Response {
        guard profile.transcodingPrice != nil else {
            return Self.plain(.badRequest, "incompatible capabilities: transcoding is not offered")
        }
        if let failure = try await admit() {
            return Self.plain(HTTPResponse.Status(code: failure.status), failure.message)
        }
        let header = request.headers[HTTPField.Name(LivepeerHeaders.segment)!]
        if let problem = credentialsProblem(header) {
            return Self.plain(.forbidden, problem)
        }
        guard let header, let bytes = Data(base64Encoded: header), let description = try? Net_SegData(serializedBytes: bytes)
        else { return Self.plain(.badRequest, "malformed Livepeer-Segment") }
        let wanted = description.fullProfiles3.isEmpty ? description.fullProfiles : description.fullProfiles3
        guard !wanted.isEmpty, wanted.count <= 8 else {
            return Self.plain(.badRequest, "a segment needs 1 to 8 profiles, got \(wanted.count)")
        }
        let profiles = wanted.map(TranscodeProfile.init(wire:))
        guard profiles.allSatisfy({ (16...3840).contains($0.width) && (16...2160).contains($0.height) && $0.bitrate > 0 }) else {
            return Self.plain(.badRequest, "every profile needs a width of 16-3840, a height of 16-2160 and a bitrate")
        }
        guard reserveCapacity() else {
            return Self.plain(.serviceUnavailable, "insufficient capacity")
        }
        defer { releaseCapacity() }
        if let failure = try await work() {
            return Self.plain(HTTPResponse.Status(code: failure.status), failure.message)
        }
        let segment = try await request.body.collect(upTo: 64 * 1024 * 1024)
        var result = Net_TranscodeResult()
        result.seq = description.seq
        do {
            let outputs = try await SegmentTranscoder.transcode(Data(segment.readableBytesView), profiles: profiles)
            let baseURL = "https://127.0.0.1:\(try await ports().http)"
            result.data = .with { data in
                data.segments = outputs.map { output in
                    .with {
                        $0.url = runner.keep(output.data, output.fileExtension, output.contentType, baseURL)
                        $0.pixels = output.pixels
                    }
                }
            }
        } catch {
            result.error = "\(error)"
        }
        let body: Data = try result.serializedBytes()
        return Response(
            status: .ok,
            headers: [.contentType: "application/vnd+livepeer.transcoderesult"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    /// Checks that `Livepeer-Payment` is a `Payment` with a sender and at least one ticket, and that
    /// it expects this orchestrator's ticket recipient. Devnet payments are not redeemed.
    private func paymentProblem(_ header: String?) -> String? {
        guard let header, !header.isEmpty, let bytes = Data(base64Encoded: header),
            let payment = try? Net_Payment(serializedBytes: bytes)
        else { return "missing or unparseable payment" }
        guard payment.sender.count == 20, !payment.ticketSenderParams.isEmpty else { return "payment without a sender or tickets" }
        guard payment.ticketParams.recipient == Data(repeating: 0xAB, count: 20) else { return "payment for another recipient" }
        return nil
    }

    /// Checks `Livepeer-Segment` as an offchain orchestrator does: present, decodable, carrying an auth
    /// token this orchestrator issued that has not expired.
    private func credentialsProblem(_ header: String?) -> String? {
        guard let header, let bytes = Data(base64Encoded: header) else { return "missing auth token" }
        guard let segment = try? Net_SegData(serializedBytes: bytes), segment.hasAuthToken else {
            return "missing auth token"
        }
        manifestIDs.withLock { ids in
            ids.append(String(decoding: segment.manifestID, as: UTF8.self))
            if ids.count > 100 { ids.removeFirst(ids.count - 100) }
        }
        let token = OrchestratorOffer.AuthToken(
            token: segment.authToken.token,
            sessionID: segment.authToken.sessionID,
            expiration: Date(timeIntervalSince1970: TimeInterval(segment.authToken.expiration))
        )
        return tokens.problem(with: token)
    }

    private static func plain(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: message)))
    }

    private static func faultsResponse(_ faults: DevnetFaults) -> Response {
        let data = (try? JSONEncoder().encode(faults)) ?? Data("{}".utf8)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
