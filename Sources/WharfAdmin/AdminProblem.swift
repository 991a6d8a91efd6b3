public import WharfCore

/// An admin API error, rendered by the server as an RFC 9457 problem document.
public typealias AdminProblem = APIProblem

extension APIProblem {
    /// 422 `validation-failed` for one field; `detail` is the message, which names the field.
    public static func invalid(field: String, _ message: String) -> AdminProblem {
        AdminProblem(
            status: 422,
            kind: "validation-failed",
            title: "Unprocessable Content",
            detail: message,
            errors: [FieldError(field: field, message: message)]
        )
    }

    /// The answer to a library error of an admin operation: `not found` becomes 404 of
    /// `notFoundKind`, `already exists` 409 `tenant-already-exists`, `invalid argument` 422 naming
    /// `field` (or, when `nil`, the field the message starts with). Other errors (the store failing)
    /// are not the caller's to fix and are returned unchanged, to become a 500.
    static func translating(_ error: any Error, notFoundKind: String, field: String? = nil) -> any Error {
        guard let error = error as? WharfError else { return error }
        switch error.code {
        case .notFound:
            return notFound(notFoundKind, error.message)
        case .alreadyExists:
            return AdminProblem(status: 409, kind: "tenant-already-exists", title: "Conflict", detail: error.message)
        case .invalidArgument:
            return invalid(field: field ?? fieldPointer(namedAtStartOf: error.message), error.message)
        default:
            return error
        }
    }

    /// The JSON pointer of the field a validation message starts with: `rate.burst must be …` names
    /// `/rate/burst`, `allowed_networks: at most …` names `/allowed_networks`; `/` when the message
    /// names none.
    static func fieldPointer(namedAtStartOf message: String) -> String {
        let name = message.prefix { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == ".") }
        let rest = message.dropFirst(name.count)
        // A field name has a `.` or `_` (`rate.burst`, `max_queued_jobs`) or is followed by `:`;
        // a plain word (`at least one …`) is not one.
        let namesField = rest.hasPrefix(":") || name.contains(".") || name.contains("_")
        guard !name.isEmpty, namesField, rest.isEmpty || rest.hasPrefix(" ") || rest.hasPrefix(":") else { return "/" }
        return "/" + name.split(separator: ".").joined(separator: "/")
    }
}
