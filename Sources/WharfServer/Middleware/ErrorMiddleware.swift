public import Hummingbird
import Logging
import NIOCore
import WharfAdmin
import WharfCore
import WharfV1
import WharfV2

/// Turns every error into a response inside the middleware chain, so that the access log, the metrics
/// and the request id see the status the client gets.
///
/// `HTTPResponseError`s keep their own rendering. Anything else is a bug or an outage: it is logged
/// with the error and answered as a 500 problem without internals.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The listener whose paths answer 405 to another method: `/v1` and `/v2` on the public one,
    /// `/admin/v1` on the admin one.
    let role: ListenerRole

    public init(role: ListenerRole) {
        self.role = role
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            if role == .public, let allowed = Self.v1AllowedMethod(path: request.uri.path) {
                return Self.v1MethodNotAllowed(request, allowed: allowed, requestID: context.id)
            }
            // A path that exists with other methods (any method: TRACE, QUERY, …): 405 and what it takes.
            let allowed =
                role == .public ? V2Paths.allowedMethods(path: request.uri.path) : AdminPaths.allowedMethods(path: request.uri.path)
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
            if role == .public { response.headers[.wharfAPIVersion] = "v2" }
            return response
        } catch let error as any HTTPResponseError {
            return try error.response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return try ProblemError.internalError.response(from: request, context: context)
        }
    }

    /// The one method a `/v1` operation path takes (`POST` for a pipeline, `GET` for the document),
    /// or `nil` for any other path.
    static func v1AllowedMethod(path: String) -> String? {
        guard path.hasPrefix("/v1/") else { return nil }
        let operation = path.dropFirst("/v1/".count)
        if operation == "openapi.yaml" { return "GET" }
        return Pipeline(rawValue: String(operation)) != nil ? "POST" : nil
    }

    /// 405 with `Allow` in the v1 error shape, as the upstream API answers another method.
    static func v1MethodNotAllowed(_ request: Request, allowed: String, requestID: String) -> Response {
        let failure = V1Failure(status: 405, message: "\(request.uri.path) takes \(allowed)")
        return Response(
            status: .methodNotAllowed,
            headers: [.contentType: "application/json", .allow: allowed, .wharfAPIVersion: "v1"],
            body: .init(byteBuffer: ByteBuffer(bytes: failure.body(requestID: requestID)))
        )
    }
}
