/// An API error as its RFC 9457 problem document tells it: status, a stable kind
/// (`urn:wharf:problem:<kind>`), a title, what happened, and the fields at fault. `/v2` and the admin
/// API both raise it; the server renders it.
public struct APIProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// A field at fault in a validation error.
    public struct FieldError: Sendable, Hashable, Codable {
        /// A JSON pointer into the body (`/parameters/name`) or a parameter's name.
        public var field: String
        public var message: String

        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    public var status: Int
    /// The stable part of `urn:wharf:problem:<kind>`.
    public var kind: String
    public var title: String
    public var detail: String
    public var errors: [FieldError]

    public init(status: Int, kind: String, title: String, detail: String, errors: [FieldError] = []) {
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.errors = errors
    }

    public var description: String { detail }

    /// 404 for something the caller does not have.
    public static func notFound(_ kind: String, _ detail: String) -> APIProblem {
        APIProblem(status: 404, kind: kind, title: "Not Found", detail: detail)
    }

    /// 400 `invalid-request` for a request that cannot be read.
    public static func badRequest(_ detail: String) -> APIProblem {
        APIProblem(status: 400, kind: "invalid-request", title: "Bad Request", detail: detail)
    }
}
