/// An error from Wharf's libraries: a stable ``Code``, a message for people and an optional cause.
///
/// Callers switch on ``code``; new codes can be added without breaking them, because ``Code`` is a
/// struct wrapping a private enum.
public struct WharfError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case invalidArgument = "invalid argument"
            case notFound = "not found"
            case alreadyExists = "already exists"
            case storeUnavailable = "store unavailable"
            case storeIncompatible = "store incompatible"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The caller passed something unacceptable; the message says what.
        public static let invalidArgument = Code(.invalidArgument)
        /// The named thing does not exist.
        public static let notFound = Code(.notFound)
        /// Something with the same unique name already exists.
        public static let alreadyExists = Code(.alreadyExists)
        /// The store could not be reached or answered with an error.
        public static let storeUnavailable = Code(.storeUnavailable)
        /// The store's schema is not one this build of Wharf can use.
        public static let storeIncompatible = Code(.storeIncompatible)

        public var description: String { value.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, for people.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { "\(message) (\(cause))" } else { message }
    }
}
