import Foundation
public import Hummingbird
import Logging
public import WharfCore
import WharfPolicy

/// The admin API's first read-only routes, on the admin listener behind the `admin` scope:
/// `GET /admin/v1/tenants` and `GET /admin/v1/keys[?tenant=NAME]`.
///
/// Write operations stay in the CLI until the admin API gets its OpenAPI document.
public struct AdminController<Store: TenantStore & APIKeyStore>: Sendable {
    private let management: KeyManagement<Store>

    public init(store: Store) {
        self.management = KeyManagement(store: store)
    }

    public func addRoutes(to group: RouterGroup<WharfRequestContext>) {
        group.get("tenants") { _, _ in
            let tenants = try await management.listTenants()
            return ListResponse(data: tenants.map { TenantItem(id: $0.id, name: $0.name, createdAt: $0.createdAt) })
        }
        group.get("keys") { request, _ in
            let tenantName = request.uri.queryParameters["tenant"].map(String.init)
            do {
                let keys = try await management.listKeys(tenantName: tenantName)
                return ListResponse(data: keys.map(KeyItem.init))
            } catch let error as WharfError where error.code == .notFound {
                throw ProblemError(status: .notFound, kind: "tenant-not-found", title: "Not Found", detail: error.message)
            }
        }
    }
}

struct ListResponse<Item: Encodable & Sendable>: ResponseEncodable {
    var data: [Item]
}

struct TenantItem: Codable {
    var id: String
    var name: String
    var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name
        case createdAt = "created_at"
    }
}

struct KeyItem: Codable {
    var prefix: String
    var tenantID: String
    var name: String
    var scopes: [String]
    var createdAt: Date
    var revokedAt: Date?

    init(_ key: APIKey) {
        prefix = key.prefix
        tenantID = key.tenantID
        name = key.name
        scopes = key.scopes.sorted().map(\.rawValue)
        createdAt = key.createdAt
        revokedAt = key.revokedAt
    }

    enum CodingKeys: String, CodingKey {
        case prefix, name, scopes
        case tenantID = "tenant_id"
        case createdAt = "created_at"
        case revokedAt = "revoked_at"
    }
}
