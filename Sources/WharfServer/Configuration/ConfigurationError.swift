/// A configuration that cannot be used, with every problem found in it.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// One thing wrong with one key.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The dotted key, or the file when the problem is the file itself.
        public var key: String
        /// What is wrong, and where the bad value came from.
        public var message: String

        public var description: String { "\(key): \(message)" }
    }

    /// Everything wrong, in the order found.
    public var problems: [Problem]

    public var description: String {
        "invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
