import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import WharfCore
import WharfPolicy
import WharfV2

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
        var routing: RoutingHints
        do {
            routing = try RoutingHeaders.hints(request.headers)
            routing.clientRegion = context.clientRegion
        } catch {
            throw V2Problem(status: 400, kind: "invalid-request", title: "Bad Request", detail: error.message)
        }
        let caller = V2Caller(
            tenantID: principal.tenantID,
            keyPrefix: principal.keyPrefix,
            revision: revision,
            mediaBaseURL: mediaBaseURL(publicBaseURL: publicBaseURL, request: request),
            routing: routing
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
