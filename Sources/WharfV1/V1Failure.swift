public import Foundation
import HTTPTypes
import OpenAPIRuntime
import WharfCore

/// An error `/v1` answers with, in the Livepeer AI API's shapes: `{"detail": {"msg": …}}` for most
/// statuses, and FastAPI's `{"detail": [{"loc", "msg", "type"}]}` for 422 validation failures.
public struct V1Failure: Error, Sendable, Hashable {
    /// One validation problem: where (`["body", "width"]`), what, and a machine-readable kind.
    public struct Issue: Sendable, Hashable {
        public var location: [String]
        public var message: String
        public var kind: String

        public init(_ location: [String], _ message: String, kind: String = "value_error") {
            self.location = location
            self.message = message
            self.kind = kind
        }
    }

    public var status: Int
    public var message: String
    /// Set for 422: every problem found.
    public var issues: [Issue]
    /// Seconds after which a retry may succeed (429, 503).
    public var retryAfterSeconds: Int?

    public init(status: Int, message: String, issues: [Issue] = [], retryAfterSeconds: Int? = nil) {
        self.status = status
        self.message = message
        self.issues = issues
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// 422 for request fields that are missing or out of range.
    public static func invalid(_ issues: [Issue]) -> V1Failure {
        V1Failure(
            status: 422,
            message: issues.map { "\($0.location.joined(separator: ".")): \($0.message)" }.joined(separator: "; "),
            issues: issues
        )
    }

    /// The body of the answer, given the request id.
    public func body(requestID: String) -> Data {
        let encoder = V1JSON.encoder
        if status == 422, !issues.isEmpty {
            let details = issues.map { ValidationBody.Detail(loc: $0.location, msg: $0.message, type: $0.kind) }
            return (try? encoder.encode(ValidationBody(detail: details, requestID: requestID))) ?? Data()
        }
        return (try? encoder.encode(MessageBody(detail: .init(msg: message, requestID: requestID)))) ?? Data()
    }

    /// A 422 in FastAPI's shape: one detail per field, with the request id beside them.
    private struct ValidationBody: Encodable {
        struct Detail: Encodable {
            var loc: [String]
            var msg: String
            var type: String
        }

        var detail: [Detail]
        var requestID: String

        enum CodingKeys: String, CodingKey {
            case detail
            case requestID = "request_id"
        }
    }

    /// Any other failure: one message with the request id.
    private struct MessageBody: Encodable {
        struct Detail: Encodable {
            var msg: String
            var requestID: String

            enum CodingKeys: String, CodingKey {
                case msg
                case requestID = "request_id"
            }
        }

        var detail: Detail
    }
}

extension V1Failure {
    /// The v1 answer for any error a v1 request met. Client mistakes keep their status; failures of
    /// the network become 502/503 with the routing message; anything unexpected is a 500 without
    /// internals (the caller logs it).
    /// - Returns: The failure, and whether the error was unexpected.
    public static func from(_ error: any Error) -> (failure: V1Failure, unexpected: Bool) {
        switch error {
        case let failure as V1Failure:
            return (failure, false)
        case let convertible as any NetworkStepFailureConvertible:
            let network = convertible.stepFailure
            switch network.kind {
            case .noOrchestrator:
                return (V1Failure(status: 503, message: network.message, retryAfterSeconds: 5), false)
            case .allAttemptsFailed:
                return (V1Failure(status: 502, message: network.message), false)
            case .rejected:
                return (V1Failure(status: 400, message: network.message), false)
            }
        case let refusal as PolicyRefusal:
            return (V1Failure(status: refusal.rule.status, message: refusal.message, retryAfterSeconds: refusal.retryAfterSeconds), false)
        case let server as ServerError:
            if server.underlyingError is V1Failure || server.underlyingError is any NetworkStepFailureConvertible
                || server.underlyingError is PolicyRefusal
            {
                return from(server.underlyingError)
            }
            if let decoding = server.underlyingError as? DecodingError {
                return (.invalid([issue(for: decoding)]), false)
            }
            let status = Int(server.httpStatus.code)
            if (400..<500).contains(status) {
                return (V1Failure(status: status, message: "\(server.causeDescription): \(server.underlyingError)"), false)
            }
            return (internalError, true)
        default:
            return (internalError, true)
        }
    }

    static let internalError = V1Failure(
        status: 500,
        message: "the gateway failed to handle the request; quote the request id when reporting it"
    )

    /// A validation issue in FastAPI's terms for a JSON decoding error.
    static func issue(for error: DecodingError) -> Issue {
        func location(_ path: [any CodingKey], _ last: (any CodingKey)? = nil) -> [String] {
            ["body"] + (path + (last.map { [$0] } ?? [])).map { $0.intValue.map(String.init) ?? $0.stringValue }
        }
        switch error {
        case .keyNotFound(let key, let context):
            return Issue(location(context.codingPath, key), "Field required", kind: "missing")
        case .typeMismatch(let type, let context):
            return Issue(location(context.codingPath), "Input should be of type \(type)", kind: "type_error")
        case .valueNotFound(let type, let context):
            return Issue(location(context.codingPath), "Input should be a valid \(type), not null", kind: "missing")
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? Issue(["body"], "JSON decode error", kind: "json_invalid")
                : Issue(location(context.codingPath), context.debugDescription, kind: "value_error")
        @unknown default:
            return Issue(["body"], "invalid request body", kind: "value_error")
        }
    }
}
