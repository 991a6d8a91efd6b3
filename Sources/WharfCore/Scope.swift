/// What an API key may be used for.
///
/// Scopes are checked per route group: `/v1` needs ``v1``, `/v2` needs ``v2`` and the admin listener
/// needs ``admin``. New scopes may be added; the raw values are stored and never change.
public enum Scope: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// The Livepeer-compatible AI API under `/v1`.
    case v1
    /// Wharf's own job and workflow API under `/v2`.
    case v2
    /// The admin API on the admin listener.
    case admin

    public static func < (lhs: Scope, rhs: Scope) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// Parses a comma-separated list such as `"v1,v2"`.
    /// - Throws: ``WharfError`` with code ``WharfError/Code/invalidArgument`` naming the unknown scope.
    public static func parseList(_ text: String) throws -> Set<Scope> {
        var scopes: Set<Scope> = []
        for part in text.split(separator: ",") {
            let name = part.trimmingWhitespace()
            guard let scope = Scope(rawValue: name) else {
                let known = Scope.allCases.map(\.rawValue).joined(separator: ", ")
                throw WharfError(.invalidArgument, "unknown scope '\(name)' (known scopes: \(known))")
            }
            scopes.insert(scope)
        }
        guard !scopes.isEmpty else {
            throw WharfError(.invalidArgument, "at least one scope is required")
        }
        return scopes
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace (spaces, tabs, newlines).
    package func trimmingWhitespace() -> String {
        // Found from both ends in place: reversing the characters twice built the string anew one
        // character at a time, on every request's `Authorization` header.
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else {
            return ""
        }
        return String(self[first...last])
    }
}
