public import WharfCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The admin actions the audit log records, as `<thing>.<verb>`.
public enum AdminAction: String, Sendable, Hashable, CaseIterable {
    /// A tenant was created.
    case tenantCreate = "tenant.create"
    /// An API key was created (its token is never recorded).
    case keyCreate = "key.create"
    /// An API key was revoked.
    case keyRevoke = "key.revoke"
    /// A tenant's or key's limits were replaced or changed.
    case limitsSet = "limits.set"
    /// A tenant's or key's limits were removed.
    case limitsClear = "limits.clear"
    /// A price book was created or replaced.
    case priceBookSet = "price-book.set"
    /// A tenant was moved to a price book, or back to the default one.
    case tenantPriceBook = "tenant.price-book"
    /// An admin key signed in to the web console.
    case consoleSignIn = "console.sign-in"
    /// A console session was ended by its owner.
    case consoleSignOut = "console.sign-out"
}

/// How an audited action ended.
public enum AuditResult: String, Sendable, Hashable, CaseIterable {
    /// It was done.
    case success
    /// It was refused before it started: the caller may not do it.
    case denied
    /// It was attempted and did not happen; the entry's detail says why.
    case failed
}

/// Who performs admin actions, as the audit log names them, and from where.
public struct AuditActor: Sendable, Hashable {
    /// `key:<prefix>` for an API key, `cli:<user>` for the command line.
    public var name: String
    /// The client address, for actions over the network.
    public var source: String?

    public init(name: String, source: String? = nil) {
        self.name = name
        self.source = source
    }

    /// An API key acting over HTTP: `key:<prefix>` from `source`.
    public static func apiKey(prefix: String, source: String?) -> AuditActor {
        AuditActor(name: "key:\(prefix)", source: source)
    }

    /// Someone at the command line: `cli:<user>`.
    public static func commandLine(user: String) -> AuditActor {
        AuditActor(name: "cli:\(user)")
    }

}

/// What an entry says about an action that succeeded, beyond who did what.
public struct AuditNote: Sendable, Hashable {
    /// What the action was done to, when it is known only afterwards (a new key's prefix); `nil`
    /// keeps the target given beforehand.
    public var target: String?
    /// More about the action: the new settings, what was made. Never a token or secret.
    public var detail: String?

    public init(target: String? = nil, detail: String? = nil) {
        self.target = target
        self.detail = detail
    }
}

/// Writes admin actions to the audit log for one actor: exactly one entry per action, whether it
/// succeeds or fails.
///
/// The command line and the admin API use it the same way:
///
/// ```swift
/// let trail = AuditTrail(store: store, actor: .commandLine(user: "ops"))
/// let tenant = try await trail.record(.tenantCreate, target: "tenant:acme") {
///     try await KeyManagement(store: store).createTenant(name: "acme")
/// } describe: { tenant in
///     AuditNote(detail: #"{"id":"\#(tenant.id)"}"#)
/// }
/// ```
public struct AuditTrail<Store: AuditStore>: Sendable {
    private let store: Store
    /// Who the entries name.
    public let actor: AuditActor

    public init(store: Store, actor: AuditActor) {
        self.store = store
        self.actor = actor
    }

    /// Runs `operation` and appends one entry for it: `success` with what `describe` says about the
    /// value, or `failed` with the error's message as detail (the error is then rethrown).
    ///
    /// - Parameters:
    ///   - action: What is being done.
    ///   - target: What it is done to (`tenant:<name>`, `key:<prefix>`), when known beforehand.
    ///   - operation: The action itself.
    ///   - describe: The target (when only known afterwards) and detail of a success.
    /// - Returns: What `operation` returned.
    /// - Throws: What `operation` threw; or, when the action succeeded but its entry could not be
    ///   written, ``WharfCore/WharfError/Code/storeUnavailable``.
    public func record<Value>(
        _ action: AdminAction,
        target: String?,
        _ operation: () async throws -> Value,
        describe: (Value) -> AuditNote = { _ in AuditNote() }
    ) async throws -> Value {
        let value: Value
        do {
            value = try await operation()
        } catch {
            // The action's own error is what the caller needs; an entry that cannot be written on
            // top of it (the store is failing) does not replace it.
            _ = try? await append(action, target: target, result: .failed, detail: Self.message(of: error))
            throw error
        }
        let note = describe(value)
        do {
            try await append(action, target: note.target ?? target, result: .success, detail: note.detail)
        } catch {
            throw WharfError(.storeUnavailable, "\(action.rawValue) was done but its audit entry could not be written", cause: error)
        }
        return value
    }

    /// Appends one entry as it is, for an outcome decided elsewhere (an action refused before it
    /// could start, or one that failed before reaching ``record(_:target:_:describe:)``).
    @discardableResult
    public func append(_ action: AdminAction, target: String?, result: AuditResult, detail: String?) async throws -> AuditEntry {
        try await store.appendAudit(
            AuditRecord(
                actor: actor.name,
                action: action.rawValue,
                target: target,
                source: actor.source,
                result: result.rawValue,
                detail: detail
            )
        )
    }

    /// The text an entry keeps for an error: a ``WharfCore/WharfError``'s message, or the error's
    /// description.
    public static func message(of error: any Error) -> String {
        (error as? WharfError)?.message ?? "\(error)"
    }
}
