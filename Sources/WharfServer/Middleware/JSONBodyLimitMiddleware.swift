import HTTPTypes
import Hummingbird

/// Reads a JSON request body whole, up to a limit, before the route sees it: the JSON routes of
/// `/v2` and the admin API decode whole documents, and a body past the limit (declared or not) is
/// refused with 413 before it is read further. Uploads (`POST /v2/files`) stream with their own limit
/// and pass untouched.
struct JSONBodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The largest JSON body read.
    let limit: Int
    /// Paths whose bodies are not JSON documents and are left alone.
    var streamedPaths: Set<String> = []

    /// Large enough for any job request, limits document or key; small enough to never matter.
    static var defaultLimit: Int { 1 << 20 }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard [.post, .put, .patch].contains(request.method), !streamedPaths.contains(request.uri.path) else {
            return try await next(request, context)
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw Self.tooLarge(limit)
        }
        var request = request
        do {
            _ = try await request.collectBody(upTo: limit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw Self.tooLarge(limit)
        }
        return try await next(request, context)
    }

    static func tooLarge(_ limit: Int) -> ProblemError {
        ProblemError(
            status: .contentTooLarge,
            kind: "request-too-large",
            title: "Content Too Large",
            detail: "JSON request bodies are limited to \(limit) bytes"
        )
    }
}
