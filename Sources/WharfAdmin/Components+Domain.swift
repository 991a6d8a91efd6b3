import Foundation
import WharfAPIAdmin
import WharfCore
import WharfLivepeer
import WharfModel
import WharfPlugins
import WharfPolicy
import WharfRouting

extension Components.Schemas.Tenant {
    init(_ tenant: Tenant) {
        self.init(id: tenant.id, name: tenant.name, createdAt: tenant.createdAt)
    }
}

extension Components.Schemas.Key {
    init(_ key: APIKey) {
        self.init(
            prefix: key.prefix,
            tenantId: key.tenantID,
            name: key.name,
            scopes: key.scopes.sorted().compactMap { Components.Schemas.Scope(rawValue: $0.rawValue) },
            createdAt: key.createdAt,
            revokedAt: key.revokedAt
        )
    }
}

extension Components.Schemas.CreatedKey {
    init(_ key: APIKey, token: String) {
        self.init(
            prefix: key.prefix,
            tenantId: key.tenantID,
            name: key.name,
            scopes: key.scopes.sorted().compactMap { Components.Schemas.Scope(rawValue: $0.rawValue) },
            createdAt: key.createdAt,
            token: token
        )
    }
}

extension Components.Schemas.Limits {
    init(_ limits: Limits) {
        self.init(
            allowedNetworks: limits.allowedNetworks?.map(\.description),
            rate: limits.rate.map { .init(requestsPerSecond: $0.requestsPerSecond, burst: $0.burst) },
            maxConcurrentJobs: limits.maxConcurrentJobs,
            maxQueuedJobs: limits.maxQueuedJobs,
            budget: limits.budget.map {
                .init(daily: $0.daily, monthly: $0.monthly, perJob: $0.perJob, alertPercents: $0.alertPercents)
            },
            storage: limits.storage.map { .init(maxBytes: $0.maxBytes, maxFiles: $0.maxFiles) },
            routing: limits.routing.map {
                .init(
                    allowedOrchestrators: $0.allowedOrchestrators,
                    deniedOrchestrators: $0.deniedOrchestrators,
                    regions: $0.regions,
                    clientRegion: $0.clientRegion,
                    minSuccessRate: $0.minimumSuccessRate,
                    maxPrices: $0.maximumPrices.map { .init(additionalProperties: $0) },
                    preferredOrchestrators: $0.preferredOrchestrators
                )
            }
        )
    }
}

extension Limits {
    /// The limits a request's document describes.
    /// - Throws: ``AdminProblem`` 422 naming the network that is not a CIDR
    ///   (`/allowed_networks/<index>`).
    init(_ document: Components.Schemas.Limits) throws {
        let networks = try document.allowedNetworks?.enumerated().map { index, text in
            guard let network = CIDR(text) else {
                throw AdminProblem.invalid(
                    field: "/allowed_networks/\(index)",
                    "allowed_networks: '\(text.prefix(60))' is not an IPv4 or IPv6 network (CIDR such as 203.0.113.0/24 or 2001:db8::/32)"
                )
            }
            return network
        }
        self.init(
            allowedNetworks: networks,
            rate: document.rate.map { RateLimit(requestsPerSecond: $0.requestsPerSecond, burst: $0.burst) },
            maxConcurrentJobs: document.maxConcurrentJobs,
            maxQueuedJobs: document.maxQueuedJobs,
            budget: document.budget.map {
                Budget(daily: $0.daily, monthly: $0.monthly, perJob: $0.perJob, alertPercents: $0.alertPercents ?? [])
            },
            storage: document.storage.map { StorageQuota(maxBytes: $0.maxBytes, maxFiles: $0.maxFiles) },
            routing: document.routing.map {
                OrchestratorPolicy(
                    allowedOrchestrators: $0.allowedOrchestrators,
                    deniedOrchestrators: $0.deniedOrchestrators,
                    regions: $0.regions,
                    clientRegion: $0.clientRegion,
                    minimumSuccessRate: $0.minSuccessRate,
                    maximumPrices: $0.maxPrices?.additionalProperties,
                    preferredOrchestrators: $0.preferredOrchestrators
                )
            }
        )
    }
}

extension Components.Schemas.TenantUsage {
    init(_ usage: TenantUsage) {
        self.init(
            tenant: .init(usage.tenant),
            day: .init(since: usage.day.since, spent: usage.day.spent, limit: usage.day.limit),
            month: .init(since: usage.month.since, spent: usage.month.spent, limit: usage.month.limit),
            perJobLimit: usage.perJobLimit,
            alertPercents: usage.alertPercents
        )
    }
}

extension Components.Schemas.AuditEntry {
    init(_ entry: AuditEntry) {
        self.init(
            sequence: entry.sequence,
            at: entry.record.at,
            actor: entry.record.actor,
            action: entry.record.action,
            target: entry.record.target,
            source: entry.record.source,
            result: entry.record.result,
            detail: entry.record.detail,
            previousHash: entry.previousHash,
            hash: entry.hash
        )
    }
}

extension Components.Schemas.Orchestrator {
    init(_ member: OrchestratorPool.Member) {
        let status: StatusPayload =
            member.draining
            ? .draining : member.suspendedUntil != nil ? .suspended : member.offer == nil ? .unreachable : .available
        self.init(
            address: member.address.description,
            region: member.region,
            status: status,
            offer: member.offer.map(Components.Schemas.OrchestratorOffer.init),
            latencyMs: member.latency.map { ($0 * 1000).rounded() },
            consecutiveFailures: member.consecutiveFailures,
            suspendedUntil: member.suspendedUntil,
            lastError: member.lastError
        )
    }
}

extension Components.Schemas.OrchestratorOffer {
    init(_ offer: OrchestratorOffer) {
        let prices: PricesPayload = offer.capabilityPrices.compactMap { key, price in
            Pipeline(capabilityID: key.capability).map {
                PricesPayloadPayload(
                    pipeline: $0.rawValue,
                    model: key.model,
                    pricePerUnit: price.pricePerUnit,
                    pixelsPerUnit: price.pixelsPerUnit
                )
            }
        }
        self.init(
            transcoder: offer.transcoderURL.absoluteString,
            pipelines: offer.capabilities.compactMap { Pipeline(capabilityID: $0)?.rawValue }.sorted(),
            prices: prices.sorted { ($0.pipeline, $0.model) < ($1.pipeline, $1.model) },
            authTokenExpiresAt: offer.authToken?.expiration,
            requiresPayment: offer.requiresPayment
        )
    }
}

extension Components.Schemas.PluginList {
    init(_ catalog: PluginCatalog) {
        self.init(
            data: catalog.plugins.map { plugin in
                Components.Schemas.Plugin(
                    name: plugin.manifest.name,
                    version: plugin.manifest.version,
                    description: plugin.manifest.description,
                    presets: plugin.manifest.presets.map(\.name),
                    codeSteps: plugin.manifest.codeSteps.map(\.name),
                    signature: "\(plugin.signature)",
                    file: plugin.path,
                    isolation: plugin.isolation == .process ? .process : .inProcess,
                    status: plugin.health.status == .healthy ? .healthy : .unhealthy,
                    reason: plugin.health.reason,
                    crashes: plugin.health.crashes,
                    lastCrash: plugin.health.lastCrash,
                    processes: plugin.health.processes
                )
            },
            failures: catalog.failures.map { .init(file: $0.path, problem: $0.problem) }
        )
    }
}
