import HTTPTypes
public import Hummingbird
import Logging
import OpenAPIRuntime
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
            response = try Self.problem(for: error.underlyingError, fallback: error).response(from: request, context: context)
        } catch let problem as V2Problem {
            response = try Self.problem(problem).response(from: request, context: context)
        }
        response.headers[.wharfAPIVersion] = "v2"
        return response
    }

    private static func problem(for error: any Error, fallback: ServerError) -> ProblemError {
        if let problem = error as? V2Problem { return self.problem(problem) }
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
        let status = HTTPResponse.Status(code: problem.status)
        return problem.status >= 500
            ? .internalError : ProblemError(status: status, kind: problem.kind, title: problem.title, detail: problem.detail)
    }
}

/// Tells the v2 handlers who is calling (they get no request context).
struct V2CallerMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal else { return try await next(request, context) }
        return try await V2Caller.$current.withValue(V2Caller(tenantID: principal.tenantID, keyPrefix: principal.keyPrefix)) {
            try await next(request, context)
        }
    }
}
