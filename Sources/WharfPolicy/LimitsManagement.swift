public import WharfCore

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// The operations on limits and usage that the CLI and the admin API share: tenants are named by
/// their name and keys by their prefix, as operators know them.
public struct LimitsManagement<Store: TenantStore & APIKeyStore & LimitsStore & SpendStore>: Sendable {
    private let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// The limits set for `subject`; `nil` when none are.
    /// - Throws: ``WharfCore/WharfError/Code/notFound`` when the tenant or key does not exist.
    public func limits(of subject: PolicySubjectName) async throws -> Limits? {
        try await store.limits(for: try await resolve(subject))
    }

    /// Files belong to tenants, not keys: a storage quota on a key is refused rather than ignored.
    static func refuseStorageQuota(_ limits: Limits, on subject: PolicySubject) throws {
        if case .key = subject, limits.storage != nil {
            throw WharfError(
                .invalidArgument,
                "storage: a storage quota is a tenant's (files belong to tenants); set it on the key's tenant"
            )
        }
    }

    /// Replaces the limits of `subject` with `limits`, once they pass ``WharfCore/Limits/validate()``.
    /// - Returns: The limits as stored.
    /// - Throws: ``WharfCore/WharfError/Code/invalidArgument`` naming the field at fault, or
    ///   ``WharfCore/WharfError/Code/notFound`` when the tenant or key does not exist.
    @discardableResult
    public func setLimits(_ limits: Limits, of subject: PolicySubjectName, at date: Date = Date()) async throws -> Limits {
        let resolved = try await resolve(subject)
        try limits.validate()
        try Self.refuseStorageQuota(limits, on: resolved)
        try await store.setLimits(limits, for: resolved, at: date)
        return limits
    }

    /// Changes some fields of the limits of `subject` (starting from no limits when none are set)
    /// and stores the result, once it passes ``WharfCore/Limits/validate()``.
    /// - Parameter change: Edits the current limits; may throw to refuse the change.
    /// - Returns: The limits as stored.
    @discardableResult
    public func updateLimits(
        of subject: PolicySubjectName,
        at date: Date = Date(),
        _ change: (inout Limits) throws -> Void
    ) async throws -> Limits {
        let resolved = try await resolve(subject)
        var limits = try await store.limits(for: resolved) ?? Limits()
        try change(&limits)
        try limits.validate()
        try Self.refuseStorageQuota(limits, on: resolved)
        try await store.setLimits(limits, for: resolved, at: date)
        return limits
    }

    /// Removes the limits of `subject`; nothing happens when none are set.
    /// - Throws: ``WharfCore/WharfError/Code/notFound`` when the tenant or key does not exist.
    public func clearLimits(of subject: PolicySubjectName, at date: Date = Date()) async throws {
        try await store.setLimits(nil, for: try await resolve(subject), at: date)
    }

    /// What the tenant named `tenantName` spent in the current UTC day and month, beside its budget.
    /// - Parameter now: The moment the day and month are taken from.
    /// - Throws: ``WharfCore/WharfError/Code/notFound`` when the tenant does not exist.
    public func usage(tenantName: String, at now: Date = Date()) async throws -> TenantUsage {
        guard let tenant = try await store.tenant(named: tenantName) else {
            throw WharfError(.notFound, "no tenant named '\(tenantName)'")
        }
        let budget = try await store.limits(for: .tenant(tenant.id))?.budget
        let day = SpendPeriod.day(containing: now)
        let month = SpendPeriod.month(containing: now)
        return TenantUsage(
            tenant: tenant,
            day: .init(
                since: day.start,
                spent: try await store.spent(tenantID: tenant.id, keyPrefix: nil, in: day),
                limit: budget?.daily
            ),
            month: .init(
                since: month.start,
                spent: try await store.spent(tenantID: tenant.id, keyPrefix: nil, in: month),
                limit: budget?.monthly
            ),
            perJobLimit: budget?.perJob,
            alertPercents: budget?.alertPercents ?? []
        )
    }

    /// The stored subject of a tenant name or key prefix.
    private func resolve(_ subject: PolicySubjectName) async throws -> PolicySubject {
        switch subject {
        case .tenant(let name):
            guard let tenant = try await store.tenant(named: name) else {
                throw WharfError(.notFound, "no tenant named '\(name)'")
            }
            return .tenant(tenant.id)
        case .key(let prefix):
            guard try await store.apiKey(prefix: prefix) != nil else {
                throw WharfError(.notFound, "no API key with prefix '\(prefix)'")
            }
            return .key(prefix)
        }
    }
}

/// A tenant or key as operators name them: a tenant by its name, a key by its prefix.
public enum PolicySubjectName: Sendable, Hashable, CustomStringConvertible {
    /// A tenant, by name.
    case tenant(name: String)
    /// An API key, by prefix.
    case key(prefix: String)

    /// `tenant:<name>` or `key:<prefix>`: how audit entries name it.
    public var description: String {
        switch self {
        case .tenant(let name): "tenant:\(name)"
        case .key(let prefix): "key:\(prefix)"
        }
    }
}

/// What a tenant spent in the current UTC day and month, with its budget beside.
public struct TenantUsage: Sendable, Hashable {
    /// Spending over one period, and the period's budget.
    public struct Period: Sendable, Hashable {
        /// The start of the period: UTC midnight, or the first of the month at UTC midnight.
        public var since: Date
        /// Spent since then, in the customer's price units.
        public var spent: Int64
        /// The period's budget, when one is set.
        public var limit: Int64?

        public init(since: Date, spent: Int64, limit: Int64?) {
            self.since = since
            self.spent = spent
            self.limit = limit
        }
    }

    public var tenant: Tenant
    /// Since UTC midnight.
    public var day: Period
    /// Since the first of the month, UTC.
    public var month: Period
    /// The most one job may cost, when set.
    public var perJobLimit: Int64?
    /// The budget's alert thresholds, in percent.
    public var alertPercents: [Int]

    public init(tenant: Tenant, day: Period, month: Period, perJobLimit: Int64?, alertPercents: [Int]) {
        self.tenant = tenant
        self.day = day
        self.month = month
        self.perJobLimit = perJobLimit
        self.alertPercents = alertPercents
    }
}
