import Foundation
public import HTTPTypes
public import Hummingbird
import WharfCore

/// An error answered as an RFC 9457 problem document (`application/problem+json`).
///
/// `type` is a stable URN per kind of problem (`urn:wharf:problem:invalid-api-key`) that clients can
/// switch on; `request_id` ties the answer to the gateway's log lines.
public struct ProblemError: HTTPResponseError, Sendable {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// The last part of the problem type URN, for example `invalid-api-key`.
    public var kind: String
    /// A short summary of the kind of problem.
    public var title: String
    /// What happened this time.
    public var detail: String
    /// Extra response headers, such as `WWW-Authenticate`.
    public var headers: HTTPFields
    /// For validation errors, each field at fault: `field` (a JSON pointer or a parameter's name)
    /// and `message`.
    public var errors: [[String: String]]

    public init(
        status: HTTPResponse.Status,
        kind: String,
        title: String,
        detail: String,
        headers: HTTPFields = [:],
        errors: [[String: String]] = []
    ) {
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers
        self.errors = errors
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = ProblemBody(
            type: "urn:wharf:problem:\(kind)",
            title: title,
            status: Int(status.code),
            detail: detail,
            instance: request.uri.path,
            requestID: context.id,
            errors: errors.isEmpty ? nil : errors
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        return Response(
            status: status,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(body)))
        )
    }

    /// The answer to a request policy refused: 403 (address), 402 (budget) or 429 (rate, jobs),
    /// with `Retry-After` when waiting helps. The problem type names the rule.
    init(_ refusal: PolicyRefusal) {
        var headers: HTTPFields = [:]
        if let seconds = refusal.retryAfterSeconds { headers[.retryAfter] = String(seconds) }
        self.init(
            status: HTTPResponse.Status(code: refusal.rule.status),
            kind: refusal.rule.rawValue,
            title: refusal.rule.title,
            detail: refusal.message,
            headers: headers
        )
    }

    /// The document of an API adapter's problem (`/v2`, admin), fields at fault included.
    init(_ problem: APIProblem) {
        self.init(
            status: HTTPResponse.Status(code: problem.status),
            kind: problem.kind,
            title: problem.title,
            detail: problem.detail,
            errors: problem.errors.map { ["field": $0.field, "message": $0.message] }
        )
    }

    /// 404 for a path no route matches.
    static func notFound(path: String) -> ProblemError {
        ProblemError(status: .notFound, kind: "not-found", title: "Not Found", detail: "no route for \(path)")
    }

    /// 500 for a failure the client cannot fix; details go to the log, not the client.
    static let internalError = ProblemError(
        status: .internalServerError,
        kind: "internal",
        title: "Internal Server Error",
        detail: "the gateway failed to handle the request; quote the request id when reporting it"
    )
}

private struct ProblemBody: Encodable {
    var type: String
    var title: String
    var status: Int
    var detail: String
    var instance: String
    var requestID: String
    var errors: [[String: String]]?

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail, instance, errors
        case requestID = "request_id"
    }
}
