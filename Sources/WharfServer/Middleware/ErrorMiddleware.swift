public import Hummingbird
import Logging
import WharfV2

/// Turns every error into a response inside the middleware chain, so that the access log, the metrics
/// and the request id see the status the client gets.
///
/// `HTTPResponseError`s keep their own rendering. Anything else is a bug or an outage: it is logged
/// with the error and answered as a 500 problem without internals.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            // A path that exists with other methods: 405 and what it takes.
            let allowed = V2Paths.allowedMethods(path: request.uri.path)
            guard !allowed.isEmpty else {
                return try ProblemError.notFound(path: request.uri.path).response(from: request, context: context)
            }
            var response = try ProblemError(
                status: .methodNotAllowed,
                kind: "method-not-allowed",
                title: "Method Not Allowed",
                detail: "\(request.uri.path) takes \(allowed.joined(separator: ", "))",
                headers: [.allow: allowed.joined(separator: ", ")]
            ).response(from: request, context: context)
            response.headers[.wharfAPIVersion] = "v2"
            return response
        } catch let error as any HTTPResponseError {
            return try error.response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return try ProblemError.internalError.response(from: request, context: context)
        }
    }
}
