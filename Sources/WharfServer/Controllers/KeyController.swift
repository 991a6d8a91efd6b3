import Foundation
public import Hummingbird
import Logging
public import WharfCore
import WharfPolicy

/// `GET /v2/key`: who the presented key is (tenant, prefix, scopes), without the secret.
///
/// The cheapest way for a customer to check that a key works, in the spirit of OpenRouter's
/// `GET /api/v1/key`.
public struct KeyController<Store: TenantStore & APIKeyStore>: Sendable {
    private let store: Store

    public init(store: Store) {
        self.store = store
    }

    public func addRoutes(to group: RouterGroup<WharfRequestContext>) {
        group.get("key") { _, context in
            guard let principal = context.principal else { throw ProblemError.internalError }
            let tenant = try await store.tenant(id: principal.tenantID)
            let key = try await store.apiKey(prefix: principal.keyPrefix)
            return KeyDescription(
                prefix: principal.keyPrefix,
                name: key?.name ?? "",
                tenant: .init(id: principal.tenantID, name: tenant?.name ?? ""),
                scopes: principal.scopes.sorted().map(\.rawValue),
                createdAt: key?.createdAt ?? Date(timeIntervalSince1970: 0)
            )
        }
    }
}

/// The JSON description of a key.
struct KeyDescription: ResponseEncodable {
    struct TenantReference: Codable {
        var id: String
        var name: String
    }
    var prefix: String
    var name: String
    var tenant: TenantReference
    var scopes: [String]
    var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case prefix, name, tenant, scopes
        case createdAt = "created_at"
    }
}
