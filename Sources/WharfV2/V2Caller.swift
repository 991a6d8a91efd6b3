public import WharfCore

/// Who is calling `/v2` and how to answer them, set by the server's v2 middleware for the duration
/// of a request (the generated handlers receive no request context).
public struct V2Caller: Sendable, Hashable {
    public var tenantID: String
    public var keyPrefix: String
    /// The revision serving the request (the key's pin or `Wharf-Version`).
    public var revision: APIRevision
    /// Where the gateway serves job files, `<base>/media`.
    public var mediaBaseURL: String

    public init(tenantID: String, keyPrefix: String, revision: APIRevision, mediaBaseURL: String) {
        self.tenantID = tenantID
        self.keyPrefix = keyPrefix
        self.revision = revision
        self.mediaBaseURL = mediaBaseURL
    }

    /// The caller of the request being handled.
    @TaskLocal public static var current: V2Caller?
}

/// A v2 error, rendered by the server as an RFC 9457 problem document.
public struct V2Problem: Error, Sendable, Hashable {
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

    /// 422 `validation-failed` for one field.
    public static func invalid(_ field: String, _ message: String) -> V2Problem {
        V2Problem(
            status: 422,
            kind: "validation-failed",
            title: "Unprocessable Content",
            detail: "\(field): \(message)",
            errors: [.init(field: field, message: message)]
        )
    }

    /// 404 for something the caller's tenant does not have.
    public static func notFound(_ kind: String, _ detail: String) -> V2Problem {
        V2Problem(status: 404, kind: kind, title: "Not Found", detail: detail)
    }
}
