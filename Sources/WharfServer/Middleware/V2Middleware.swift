import Crypto
import Foundation
import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
import OpenAPIRuntime
import Synchronization
import WharfCore
import WharfPolicy
import WharfV2

/// Renders every `/v2` error as an RFC 9457 problem document: the adapter's ``V2Problem``s, the
/// generated code's request errors (a malformed parameter or body becomes `invalid-request`), and
/// the rest through the common error middleware. Adds `Wharf-Api-Version: v2` to every answer.
struct V2Middleware: RouterMiddleware {
    typealias Context = WharfRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as ServerError {
            response = try Self.render(error, request: request, context: context)
        } catch let problem as V2Problem {
            response = try Self.render(problem, request: request, context: context)
        }
        response.headers[.wharfAPIVersion] = "v2"
        return response
    }

    /// The problem document of a v2 error; other errors are thrown on to the common error middleware.
    static func render(_ error: any Error, request: Request, context: Context) throws -> Response {
        switch error {
        case let problem as V2Problem: return try self.problem(problem).response(from: request, context: context)
        case let error as ServerError:
            return try self.problem(for: error.underlyingError, fallback: error).response(from: request, context: context)
        default: throw error
        }
    }

    private static func problem(for error: any Error, fallback: ServerError) -> ProblemError {
        if let problem = error as? V2Problem { return self.problem(problem) }
        if let refusal = error as? PolicyRefusal { return ProblemError(refusal) }
        let status = Int(fallback.httpStatus.code)
        guard (400..<500).contains(status) else { return .internalError }
        return ProblemError(
            status: fallback.httpStatus,
            kind: "invalid-request",
            title: fallback.httpStatus.reasonPhrase,
            detail: "\(fallback.causeDescription): \(fallback.underlyingError)"
        )
    }

    private static func problem(_ problem: V2Problem) -> ProblemError {
        problem.status >= 500 ? .internalError : ProblemError(problem)
    }
}

/// Tells the v2 handlers who is calling, under which revision and where job files are linked (they
/// get no request context), and says in `Wharf-Version` which revision answered.
struct V2CallerMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    /// `http.public.base_url`, when set.
    let publicBaseURL: URL?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal else { return try await next(request, context) }
        var revision = principal.revision ?? APIRevision.allCases[0]
        if let asked = request.headers[.wharfVersion] {
            guard let known = APIRevision(rawValue: asked.trimmingCharacters(in: .whitespaces)) else {
                let known = APIRevision.allCases.map(\.rawValue).joined(separator: ", ")
                throw V2Problem(
                    status: 400,
                    kind: "unknown-revision",
                    title: "Bad Request",
                    detail: "Wharf-Version '\(asked.prefix(40))' is not a revision of v2 (known: \(known))"
                )
            }
            revision = known
        }
        var routingSeed: UInt64?
        if let header = request.headers[.wharfRoutingSeed] {
            guard let seed = UInt64(header.trimmingCharacters(in: .whitespaces)) else {
                throw V2Problem(
                    status: 400,
                    kind: "invalid-request",
                    title: "Bad Request",
                    detail: "Wharf-Routing-Seed must be a whole number from 0 to 18446744073709551615"
                )
            }
            routingSeed = seed
        }
        let caller = V2Caller(
            tenantID: principal.tenantID,
            keyPrefix: principal.keyPrefix,
            revision: revision,
            mediaBaseURL: mediaBaseURL(publicBaseURL: publicBaseURL, request: request),
            routingSeed: routingSeed
        )
        var response: Response
        do {
            response = try await V2Caller.$current.withValue(caller) { try await next(request, context) }
        } catch {
            response = try V2Middleware.render(error, request: request, context: context)
        }
        response.headers[.wharfVersion] = revision.rawValue
        return response
    }
}

/// Serves revisions older than the newest by rewriting JSON on its way in and out
/// (``RevisionChange``); handlers only ever see the newest shape.
struct RevisionMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    /// The largest JSON body rewritten; bigger bodies pass as they are (and fail validation).
    let maxJSONBytes = 1 << 20

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let revision = V2Caller.current?.revision, revision < .newest else { return try await next(request, context) }
        var request = request
        if request.method == .post, !request.uri.path.hasPrefix("/v2/files"),
            request.headers[.contentType]?.hasPrefix("application/json") == true
        {
            let body = try await request.collectBody(upTo: maxJSONBytes)
            if let upgraded = RevisionChange.upgradeRequest(Data(body.readableBytesView), path: request.uri.path, from: revision) {
                var head = request.head
                head.headerFields[.contentLength] = "\(upgraded.count)"
                request = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: upgraded)))
            }
        }
        var response = try await next(request, context)
        guard response.headers[.contentType]?.hasPrefix("application/json") == true else { return response }
        let body = try await collect(response.body)
        let downgraded = RevisionChange.downgradeResponse(Data(body.readableBytesView), to: revision).map { ByteBuffer(bytes: $0) } ?? body
        response.body = ResponseBody(byteBuffer: downgraded)
        response.headers[.contentLength] = "\(downgraded.readableBytes)"
        return response
    }
}

/// `Idempotency-Key` on POSTs: the first request with a key runs and its answer is kept; a retry
/// with the same method, path and body gets that answer again (`Idempotent-Replayed: true`); the same
/// key with another request is a 422, and while the first is still running a 409.
struct IdempotencyMiddleware<Store: IdempotencyStore>: RouterMiddleware {
    typealias Context = WharfRequestContext
    let store: Store
    /// How long keys are kept (`api.v2.idempotency_hours`).
    let retention: Duration
    /// How long a claim protects a request that has not answered yet.
    let claimTime: Duration = .seconds(300)

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post, let key = request.headers[.idempotencyKey], let principal = context.principal else {
            return try await next(request, context)
        }
        guard (1...255).contains(key.utf8.count) else {
            throw V2Problem.invalid("Idempotency-Key", "must have 1 to 255 characters")
        }
        let now = Date()
        _ = try await store.removeIdempotencyRecords(createdBefore: now.addingTimeInterval(-Double(retention.components.seconds)))
        let digest = RequestDigest(method: request.method.rawValue, path: request.uri.description)
        switch try await store.beginIdempotentRequest(tenantID: principal.tenantID, key: key, at: now, lockFor: claimTime) {
        case .inProgress:
            throw V2Problem(
                status: 409,
                kind: "idempotency-key-in-use",
                title: "Conflict",
                detail: "a request with this Idempotency-Key is still being handled; retry when it has answered"
            )
        case .completed(let saved):
            for try await buffer in request.body { digest.update(buffer) }
            guard digest.finish() == saved.requestHash else {
                throw V2Problem(
                    status: 422,
                    kind: "idempotency-key-reused",
                    title: "Unprocessable Content",
                    detail: "this Idempotency-Key was used for a different request (method, path or body); use a new key"
                )
            }
            var headers = HTTPFields()
            for pair in saved.headers where pair.count == 2 {
                if let name = HTTPField.Name(pair[0]) { headers[name] = pair[1] }
            }
            headers[.idempotentReplayed] = "true"
            context.logger.info("idempotent replay", metadata: ["gw.idempotency_key": "\(key)"])
            return Response(status: .init(code: saved.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: saved.body)))
        case .claimed:
            var request = request
            let original = request.body
            request.body = RequestBody(asyncSequence: DigestingBody(base: original, digest: digest))
            var response: Response
            do {
                response = try await next(request, context)
            } catch {
                try? await store.releaseIdempotentRequest(tenantID: principal.tenantID, key: key)
                throw error
            }
            if !digest.started {
                for try await buffer in original { digest.update(buffer) }
                digest.markRead()
            }
            // A failure of the gateway, a refusal by policy (402 budget, 429 too many jobs: a retry
            // may well pass), or a body the handler did not read to the end, is not kept: a retry
            // runs again.
            guard response.status.code < 500, response.status.code != 402, response.status.code != 429, digest.read else {
                try? await store.releaseIdempotentRequest(tenantID: principal.tenantID, key: key)
                return response
            }
            let body = try await collect(response.body)
            let kept = [HTTPField.Name.contentType, .location].compactMap { name in response.headers[name].map { [name.rawName, $0] } }
            try await store.completeIdempotentRequest(
                tenantID: principal.tenantID,
                key: key,
                response: IdempotentResponse(
                    requestHash: digest.finish(),
                    status: Int(response.status.code),
                    headers: kept,
                    body: Data(body.readableBytesView)
                ),
                at: now
            )
            response.body = ResponseBody(byteBuffer: body)
            return response
        }
    }
}

/// SHA-256 over a request's method, path and body, fed as the body streams through.
final class RequestDigest: Sendable {
    private struct State {
        var hasher = SHA256()
        var started = false
        var read = false
    }

    private let state: Mutex<State>

    init(method: String, path: String) {
        var state = State()
        state.hasher.update(data: Data("\(method) \(path)\n".utf8))
        self.state = Mutex(state)
    }

    func update(_ buffer: ByteBuffer) {
        state.withLock { state in buffer.withUnsafeReadableBytes { state.hasher.update(bufferPointer: $0) } }
    }

    func markStarted() { state.withLock { $0.started = true } }
    func markRead() { state.withLock { $0.read = true } }
    var started: Bool { state.withLock { $0.started } }
    var read: Bool { state.withLock { $0.read } }
    func finish() -> String { state.withLock { $0.hasher.finalize().map { String(format: "%02x", $0) }.joined() } }
}

/// A request body that feeds a ``RequestDigest`` as it is read.
struct DigestingBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let digest: RequestDigest

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let digest: RequestDigest

        mutating func next() async throws -> ByteBuffer? {
            guard let buffer = try await base.next() else {
                digest.markRead()
                return nil
            }
            digest.update(buffer)
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        // A body can be read once: from here on only this iterator reads it.
        digest.markStarted()
        return AsyncIterator(base: base.makeAsyncIterator(), digest: digest)
    }
}

/// Reads a whole response body into one buffer.
func collect(_ body: ResponseBody) async throws -> ByteBuffer {
    let sink = CollectingWriter.Sink()
    try await body.write(CollectingWriter(sink: sink))
    return sink.buffer.withLock { $0 }
}

private struct CollectingWriter: ResponseBodyWriter {
    final class Sink: Sendable {
        let buffer = Mutex(ByteBuffer())
    }

    let sink: Sink

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        sink.buffer.withLock { $0.writeBuffer(&buffer) }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// Where job files are linked: `http.public.base_url`, or the address the request came to.
func mediaBaseURL(publicBaseURL: URL?, request: Request) -> String {
    let base: String
    if let publicBaseURL {
        base = publicBaseURL.absoluteString.hasSuffix("/") ? String(publicBaseURL.absoluteString.dropLast()) : publicBaseURL.absoluteString
    } else {
        base = "http://\(request.head.authority ?? "127.0.0.1")"
    }
    return base + "/media"
}

extension HTTPField.Name {
    /// `Wharf-Version`: the `/v2` revision asked for, and the one that answered.
    static let wharfVersion = HTTPField.Name("Wharf-Version")!
    /// `Idempotency-Key` on a POST.
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// `Idempotent-Replayed: true` on an answer given again for a retried request.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
