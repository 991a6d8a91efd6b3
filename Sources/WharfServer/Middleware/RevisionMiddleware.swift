import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import WharfCore
import WharfPolicy
import WharfV2

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
