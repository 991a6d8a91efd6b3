import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import WharfCore
import WharfPolicy
import WharfV2

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
