import Foundation
public import WharfCore
import WharfPolicy

/// The development tenant and key that `make run` (`wharf serve --dev`) prints.
///
/// The key's token is kept in `<data.directory>/dev-key` (mode 0600) so it can be printed on every
/// start; this is for local development only. A missing, unknown or revoked saved key is replaced.
public enum DevelopmentKey {
    /// The tenant the development key belongs to.
    public static let tenantName = "dev"

    /// Returns the saved development key, creating the tenant and a key with every scope when needed.
    public static func ensure<Store: TenantStore & APIKeyStore>(store: Store, dataDirectory: String) async throws -> String {
        let file = (dataDirectory as NSString).appendingPathComponent("dev-key")
        if let saved = try? String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            let token = APIKeyToken(parsing: saved),
            let key = try await store.apiKey(prefix: token.prefix), !key.isRevoked, key.secretHash == token.digest
        {
            return saved
        }
        let management = KeyManagement(store: store)
        if try await store.tenant(named: tenantName) == nil {
            _ = try await management.createTenant(name: tenantName)
        }
        let created = try await management.createKey(tenantName: tenantName, name: "development", scopes: Set(Scope.allCases))
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let saved = FileManager.default.createFile(
            atPath: file,
            contents: Data((created.token + "\n").utf8),
            attributes: [.posixPermissions: 0o600]
        )
        guard saved else {
            throw WharfError(.storeUnavailable, "cannot write the development key to \(file)")
        }
        return created.token
    }
}
