#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Whom a set of ``Limits`` applies to: a whole tenant or one of its keys.
public enum PolicySubject: Sendable, Hashable, CustomStringConvertible {
    /// A tenant, by identifier (`ten_…`).
    case tenant(String)
    /// An API key, by prefix.
    case key(String)
    /// A client address (for limits on what unauthenticated clients may cost, never stored).
    case address(String)

    /// `tenant` or `key`, as stored and shown.
    public var kind: String {
        switch self {
        case .tenant: "tenant"
        case .key: "key"
        case .address: "address"
        }
    }

    /// The tenant identifier or key prefix.
    public var identifier: String {
        switch self {
        case .tenant(let id), .key(let id), .address(let id): id
        }
    }

    public var description: String { "\(kind):\(identifier)" }
}

/// A request rate: `requestsPerSecond` sustained, with up to `burst` requests at once.
public struct RateLimit: Sendable, Hashable, Codable {
    /// Sustained requests per second (greater than zero).
    public var requestsPerSecond: Double
    /// Requests allowed back to back after a quiet period (at least one).
    public var burst: Int

    public init(requestsPerSecond: Double, burst: Int) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
    }

    /// The slowest rate a limit may set: 0.00001 per second, about one request a day.
    public static let slowest = 0.00001

    enum CodingKeys: String, CodingKey {
        case requestsPerSecond = "requests_per_second"
        case burst
    }
}

/// Spending limits, in the customer's price units (network cost in wei plus the operator's markup).
public struct Budget: Sendable, Hashable, Codable {
    /// Most that may be spent per UTC day.
    public var daily: Int64?
    /// Most that may be spent per UTC calendar month.
    public var monthly: Int64?
    /// Most one job may cost (estimated before it starts, and as it runs).
    public var perJob: Int64?
    /// Percentages of the daily and monthly limits at which an alert goes out (for example 80, 100).
    public var alertPercents: [Int]

    public init(daily: Int64? = nil, monthly: Int64? = nil, perJob: Int64? = nil, alertPercents: [Int] = []) {
        self.daily = daily
        self.monthly = monthly
        self.perJob = perJob
        self.alertPercents = alertPercents
    }

    enum CodingKeys: String, CodingKey {
        case daily, monthly
        case perJob = "per_job"
        case alertPercents = "alert_percents"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        daily = try container.decodeIfPresent(Int64.self, forKey: .daily)
        monthly = try container.decodeIfPresent(Int64.self, forKey: .monthly)
        perJob = try container.decodeIfPresent(Int64.self, forKey: .perJob)
        alertPercents = try container.decodeIfPresent([Int].self, forKey: .alertPercents) ?? []
    }
}

/// What a tenant's files may take: how many, and how many bytes in all. A field left out means no
/// limit of that kind.
public struct StorageQuota: Sendable, Hashable, Codable {
    public var maxBytes: Int64?
    public var maxFiles: Int?

    public init(maxBytes: Int64? = nil, maxFiles: Int? = nil) {
        self.maxBytes = maxBytes
        self.maxFiles = maxFiles
    }

    enum CodingKeys: String, CodingKey {
        case maxBytes = "max_bytes"
        case maxFiles = "max_files"
    }
}

/// What a tenant or key may do: where from, how fast, how many jobs at once and how much money.
/// Every field is optional; a missing one means "no limit of this kind".
public struct Limits: Sendable, Hashable, Codable {
    /// Networks requests may come from (IPv4 and IPv6 CIDRs); `nil` means anywhere.
    public var allowedNetworks: [CIDR]?
    /// Request rate.
    public var rate: RateLimit?
    /// Jobs running at once.
    public var maxConcurrentJobs: Int?
    /// Jobs waiting for a slot at once (beyond ``maxConcurrentJobs``); zero when not set.
    public var maxQueuedJobs: Int?
    /// Spending limits.
    public var budget: Budget?
    /// What the tenant's files (uploads, fetched inputs) may take; a tenant's limits only.
    public var storage: StorageQuota?
    /// Which orchestrators the work may go to, and which it prefers.
    public var routing: OrchestratorPolicy?

    public init(
        allowedNetworks: [CIDR]? = nil,
        rate: RateLimit? = nil,
        maxConcurrentJobs: Int? = nil,
        maxQueuedJobs: Int? = nil,
        budget: Budget? = nil,
        storage: StorageQuota? = nil,
        routing: OrchestratorPolicy? = nil
    ) {
        self.routing = routing
        self.allowedNetworks = allowedNetworks
        self.rate = rate
        self.maxConcurrentJobs = maxConcurrentJobs
        self.maxQueuedJobs = maxQueuedJobs
        self.budget = budget
        self.storage = storage
    }

    enum CodingKeys: String, CodingKey {
        case allowedNetworks = "allowed_networks"
        case rate
        case maxConcurrentJobs = "max_concurrent_jobs"
        case maxQueuedJobs = "max_queued_jobs"
        case budget
        case storage
        case routing
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let texts = try container.decodeIfPresent([String].self, forKey: .allowedNetworks) {
            allowedNetworks = try texts.map { text in
                guard let network = CIDR(text) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .allowedNetworks,
                        in: container,
                        debugDescription: "'\(text)' is not an IPv4 or IPv6 network (CIDR such as 203.0.113.0/24 or 2001:db8::/32)"
                    )
                }
                return network
            }
        }
        rate = try container.decodeIfPresent(RateLimit.self, forKey: .rate)
        maxConcurrentJobs = try container.decodeIfPresent(Int.self, forKey: .maxConcurrentJobs)
        maxQueuedJobs = try container.decodeIfPresent(Int.self, forKey: .maxQueuedJobs)
        budget = try container.decodeIfPresent(Budget.self, forKey: .budget)
        storage = try container.decodeIfPresent(StorageQuota.self, forKey: .storage)
        routing = try container.decodeIfPresent(OrchestratorPolicy.self, forKey: .routing)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(allowedNetworks?.map(\.description), forKey: .allowedNetworks)
        try container.encodeIfPresent(rate, forKey: .rate)
        try container.encodeIfPresent(maxConcurrentJobs, forKey: .maxConcurrentJobs)
        try container.encodeIfPresent(maxQueuedJobs, forKey: .maxQueuedJobs)
        try container.encodeIfPresent(budget, forKey: .budget)
        try container.encodeIfPresent(storage, forKey: .storage)
        try container.encodeIfPresent(routing, forKey: .routing)
    }

    /// Checks the values are usable. - Throws: ``WharfError/Code/invalidArgument`` naming the field.
    public func validate() throws {
        if let allowedNetworks, allowedNetworks.count > 1000 {
            throw WharfError(.invalidArgument, "allowed_networks: at most 1000 networks")
        }
        if let rate {
            // At least one request a day: a slower rate is an outage, better said with allowed networks.
            guard rate.requestsPerSecond >= RateLimit.slowest, rate.requestsPerSecond <= 1_000_000, rate.requestsPerSecond.isFinite else {
                throw WharfError(.invalidArgument, "rate.requests_per_second must be from 0.00001 (about one a day) to 1000000")
            }
            guard (1...1_000_000).contains(rate.burst) else {
                throw WharfError(.invalidArgument, "rate.burst must be from 1 to 1000000")
            }
        }
        if let maxConcurrentJobs, !(1...100_000).contains(maxConcurrentJobs) {
            throw WharfError(.invalidArgument, "max_concurrent_jobs must be from 1 to 100000")
        }
        if let maxQueuedJobs, !(0...1_000_000).contains(maxQueuedJobs) {
            throw WharfError(.invalidArgument, "max_queued_jobs must be from 0 to 1000000")
        }
        if let storage {
            if let maxBytes = storage.maxBytes, !(0...(1 << 50)).contains(maxBytes) {
                throw WharfError(.invalidArgument, "storage.max_bytes must be from 0 to 2^50 (1 PiB)")
            }
            if let maxFiles = storage.maxFiles, !(0...100_000_000).contains(maxFiles) {
                throw WharfError(.invalidArgument, "storage.max_files must be from 0 to 100000000")
            }
        }
        try routing?.validate()
        if let budget {
            for (name, value) in [("daily", budget.daily), ("monthly", budget.monthly), ("per_job", budget.perJob)] {
                if let value, value < 0 { throw WharfError(.invalidArgument, "budget.\(name) must not be negative") }
            }
            if budget.alertPercents.count > 10 || budget.alertPercents.contains(where: { !(1...1000).contains($0) }) {
                throw WharfError(.invalidArgument, "budget.alert_percents: at most 10 percentages, each from 1 to 1000")
            }
        }
    }
}

/// Persistence of tenants' and keys' ``Limits``.
public protocol LimitsStore: Sendable {
    /// The limits set for `subject`, if any.
    func limits(for subject: PolicySubject) async throws -> Limits?
    /// The limits set for each of `subjects` that has any, in one read.
    func limits(forEach subjects: [PolicySubject]) async throws -> [PolicySubject: Limits]
    /// Sets (or with `nil`, clears) the limits of `subject`.
    func setLimits(_ limits: Limits?, for subject: PolicySubject, at date: Date) async throws
}
