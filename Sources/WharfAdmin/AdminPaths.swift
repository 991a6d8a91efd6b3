public import WharfPolicy

/// The paths of `/admin/v1`: which methods each takes (for 405 answers) and which requests are
/// audited writes.
public enum AdminPaths {
    /// An audited write that a request asks for.
    public struct Write: Sendable, Hashable {
        /// What the request does.
        public var action: AdminAction
        /// What it does it to, when the path says (`tenant:<name>`, `key:<prefix>`).
        public var target: String?
    }

    /// The audited write `method` on `path` asks for; `nil` for reads and paths the API does not have.
    public static func write(method: String, path: String) -> Write? {
        let parts = components(of: path)
        switch (method, parts.count) {
        case ("POST", 1) where parts == ["tenants"]:
            return Write(action: .tenantCreate, target: nil)
        case ("POST", 1) where parts == ["keys"]:
            return Write(action: .keyCreate, target: nil)
        case ("POST", 3) where parts[0] == "keys" && parts[2] == "revoke":
            return Write(action: .keyRevoke, target: "key:\(parts[1])")
        case ("PUT", 2) where parts[0] == "price-books":
            return Write(action: .priceBookSet, target: "price-book:\(parts[1])")
        case ("PUT", 3) where parts[0] == "tenants" && parts[2] == "price-book",
            ("DELETE", 3) where parts[0] == "tenants" && parts[2] == "price-book":
            return Write(action: .tenantPriceBook, target: "tenant:\(parts[1])")
        case ("PUT", 3), ("DELETE", 3):
            guard parts[2] == "limits", let subject = subject(kind: parts[0], name: parts[1]) else { return nil }
            return Write(action: method == "PUT" ? .limitsSet : .limitsClear, target: subject)
        default:
            return nil
        }
    }

    /// Every path of `/admin/v1` (after the prefix, as the generated routes spell them, `{name}` for
    /// a tenant's name and `{prefix}` for a key's) and the methods it takes.
    public static let templates: [(path: [String], methods: [String])] = [
        (["tenants"], ["GET", "POST"]), (["tenants", "{name}"], ["GET"]), (["tenants", "{name}", "limits"], ["GET", "PUT", "DELETE"]),
        (["tenants", "{name}", "usage"], ["GET"]), (["keys"], ["GET", "POST"]), (["keys", "{prefix}", "revoke"], ["POST"]),
        (["keys", "{prefix}", "limits"], ["GET", "PUT", "DELETE"]), (["orchestrators"], ["GET"]), (["plugins"], ["GET"]),
        (["audit"], ["GET"]), (["audit", "export"], ["GET"]), (["jobs", "{id}"], ["GET"]), (["routing", "preview"], ["POST"]),
        (["analytics", "series"], ["GET"]), (["analytics", "orchestrators"], ["GET"]), (["analytics", "customers"], ["GET"]),
        (["tenants", "{name}", "invoices", "{month}"], ["GET"]), (["usage", "events"], ["GET"]), (["openapi.yaml"], ["GET"]),
        (["price-books"], ["GET"]), (["price-books", "{book}"], ["GET", "PUT"]),
        (["tenants", "{name}", "price-book"], ["GET", "PUT", "DELETE"]),
    ]

    /// The methods `/admin/v1` serves at `path`; empty for paths it does not have.
    public static func allowedMethods(path: String) -> [String] {
        let rest = components(of: path)
        for (template, methods) in templates
        where template.count == rest.count && zip(template, rest).allSatisfy({ $0.hasPrefix("{") || $0 == $1 }) {
            return methods
        }
        return []
    }

    /// What is wrong with a query that the generated code could not read (it does not say which
    /// parameter): the first parameter of the audit log's whose value does not have its type.
    public static func malformedQueryParameter(_ items: [(name: String, value: String)]) -> String? {
        for (name, value) in items {
            let shown = value.prefix(40)
            if ["after", "limit"].contains(name), Int64(value) == nil {
                return "\(name) must be an integer, not '\(shown)'"
            }
            if name == "result", AuditResult(rawValue: value) == nil {
                let known = AuditResult.allCases.map(\.rawValue).joined(separator: ", ")
                return "result must be one of \(known), not '\(shown)'"
            }
            if ["from", "before"].contains(name), (try? AdminDates().decode(value)) == nil {
                return "\(name) must be an RFC 3339 date-time such as 2026-11-30T09:15:02Z, not '\(shown)'"
            }
        }
        return nil
    }

    /// The parts of `path` after `/admin/v1`; empty for other paths.
    private static func components(of path: String) -> [String] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count > 2, parts[0] == "admin", parts[1] == "v1" else { return [] }
        return Array(parts.dropFirst(2))
    }

    private static func subject(kind: String, name: String) -> String? {
        switch kind {
        case "tenants": "tenant:\(name)"
        case "keys": "key:\(name)"
        default: nil
        }
    }
}
