import Foundation
import HTTPTypes
import Hummingbird
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
        // A 503 says which part is out of service (a plugin); other 5xx details stay inside.
        problem.status >= 500 && problem.status != 503 ? .internalError : ProblemError(problem)
    }
}
