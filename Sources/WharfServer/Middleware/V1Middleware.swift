import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import WharfCore
import WharfLivepeer
import WharfPolicy
import WharfRouting
import WharfV1

/// Makes every `/v1` answer look like the Livepeer AI API's: errors as `{"detail": {"msg"}}` (422 as
/// a `detail` list), whatever raised them; the body size limit; and the version headers: which
/// version served the request and, once the operator deprecates v1, `Deprecation` (RFC 9745),
/// `Sunset` (RFC 8594) and a `Link` to the migration guide.
struct V1Middleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    let policy: WharfConfiguration.VersionPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            // A declared length over the limit is refused before anything is read; the body itself is
            // read (and measured) only once the caller is authenticated (V1CallerMiddleware).
            if let length = request.headers[.contentLength].flatMap(Int.init), length > policy.maxBodyBytes {
                throw Self.tooLarge(policy.maxBodyBytes)
            }
            response = try await next(request, context)
        } catch {
            response = render(error, request: request, context: context)
        }
        addVersionHeaders(to: &response.headers)
        return response
    }

    static func tooLarge(_ limit: Int) -> V1Failure {
        V1Failure(status: 413, message: "the request body is larger than this gateway accepts (\(limit) bytes)")
    }

    private func render(_ error: any Error, request: Request, context: Context) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        let failure: V1Failure
        switch error {
        case let problem as ProblemError:
            failure = V1Failure(status: Int(problem.status.code), message: problem.detail)
            headers.append(contentsOf: problem.headers)
        case let http as HTTPError where http.status == .notFound:
            failure = V1Failure(status: 404, message: "no v1 operation at \(request.method) \(request.uri.path)")
        case let http as HTTPError:
            failure = V1Failure(status: Int(http.status.code), message: http.body ?? http.status.reasonPhrase)
        case let http as any HTTPResponseError where http.status.code < 500:
            failure = V1Failure(status: Int(http.status.code), message: http.status.reasonPhrase)
        default:
            let (converted, unexpected) = V1Failure.from(error)
            if unexpected {
                context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            } else if converted.status >= 500 {
                context.logger.warning(
                    "v1 request failed",
                    metadata: ["gw.status": "\(converted.status)", "error": "\(converted.message)"]
                )
            }
            failure = converted
        }
        if let seconds = failure.retryAfterSeconds { headers[.retryAfter] = String(seconds) }
        return Response(
            status: HTTPResponse.Status(code: failure.status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: failure.body(requestID: context.id)))
        )
    }

    private func addVersionHeaders(to headers: inout HTTPFields) {
        headers[.wharfAPIVersion] = "v1"
        if let deprecation = policy.deprecationDate {
            headers[.deprecation] = "@\(Int(deprecation.timeIntervalSince1970))"
        }
        if let sunset = policy.sunsetDate {
            headers[.sunset] = Self.httpDate(sunset)
        }
        if let guide = policy.migrationGuide, policy.deprecationDate != nil || policy.sunsetDate != nil {
            var links = ["<\(guide.absoluteString)>; rel=\"deprecation\"; type=\"text/html\""]
            if policy.sunsetDate != nil { links.append("<\(guide.absoluteString)>; rel=\"sunset\"; type=\"text/html\"") }
            headers[.link] = links.joined(separator: ", ")
        }
    }

    /// An IMF-fixdate (`Tue, 30 Jun 2026 23:59:59 GMT`).
    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}

/// Reads the body of an authenticated v1 request up to the limit, and tells the v1 handlers who is
/// calling and where results are linked (they get no request context).
struct V1CallerMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    /// `http.public.base_url`, when set.
    let publicBaseURL: URL?
    /// `api.v1.max_body_bytes`.
    let maxBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        do {
            _ = try await request.collectBody(upTo: maxBodyBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            // NIO's "too many bytes", as Hummingbird reports a body over the limit.
            throw V1Middleware.tooLarge(maxBodyBytes)
        }
        guard let principal = context.principal else { return try await next(request, context) }
        var priceCap: OrchestratorOffer.Price?
        if let header = request.headers[.wharfMaxPrice] {
            guard let parsed = OrchestratorOffer.Price(parsing: header) else {
                throw V1Failure(
                    status: 400,
                    message: "Wharf-Max-Price must be wei per unit (1000) or wei per N units (25/1000000), got '\(header)'"
                )
            }
            priceCap = parsed
        }
        var routing: RoutingHints
        do {
            routing = try RoutingHeaders.hints(request.headers)
            routing.clientRegion = context.clientRegion
        } catch {
            throw V1Failure(status: 400, message: error.message)
        }
        let caller = V1Caller(
            tenantID: principal.tenantID,
            requestID: context.id,
            mediaBaseURL: mediaBaseURL(publicBaseURL: publicBaseURL, request: request),
            priceCap: priceCap,
            keyPrefix: principal.keyPrefix,
            routing: routing
        )
        return try await V1Caller.$current.withValue(caller) { try await next(request, context) }
    }
}

extension HTTPField.Name {
    /// `Link` (RFC 8288).
    static let link = HTTPField.Name("Link")!
    /// `Wharf-Api-Version`: the public API version that served the request.
    static let wharfAPIVersion = HTTPField.Name("Wharf-Api-Version")!
    /// `Wharf-Routing-Seed`: makes the orchestrator choice repeatable for the same request and pool.
    static let wharfRoutingSeed = HTTPField.Name("Wharf-Routing-Seed")!
    /// `Wharf-Max-Price`: the highest price a caller accepts for one request.
    static let wharfMaxPrice = HTTPField.Name("Wharf-Max-Price")!
    /// `Deprecation` (RFC 9745).
    static let deprecation = HTTPField.Name("Deprecation")!
    /// `Sunset` (RFC 8594).
    static let sunset = HTTPField.Name("Sunset")!
}
