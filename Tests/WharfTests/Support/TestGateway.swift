import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import NIOCore
import WharfCore
import WharfPolicy
import WharfStore

@testable import WharfServer

/// A gateway on a temporary SQLite file, with a tenant and keys of every useful shape, and logs
/// captured in memory.
struct TestGateway {
    let directory: TemporaryDirectory
    let gateway: WharfGateway
    let logs: InMemoryLogHandler
    /// A key with the `v1` and `v2` scopes.
    let customerKey: String
    /// A key with only the `v1` scope.
    let v1OnlyKey: String
    /// A key with the `admin` scope.
    let adminKey: String
    /// A revoked key that had every scope.
    let revokedKey: String

    var store: AnyGatewayStore { gateway.store }

    init(configure: (inout WharfConfiguration) -> Void = { _ in }) async throws {
        directory = try TemporaryDirectory()
        var configuration = WharfConfiguration()
        configuration.dataDirectory = directory.path
        configuration.sqlitePath = directory.file("wharf.sqlite")
        configuration.publicListener.port = 0
        configuration.adminListener.port = 0
        configure(&configuration)
        let logs = InMemoryLogHandler()
        self.logs = logs
        var logger = Logger(label: "wharf-test") { _ in logs }
        logger.logLevel = .debug
        gateway = try await buildApplication(configuration: configuration, logger: logger)

        let management = KeyManagement(store: gateway.store)
        _ = try await management.createTenant(name: "acme")
        customerKey = try await management.createKey(tenantName: "acme", scopes: [.v1, .v2]).token
        v1OnlyKey = try await management.createKey(tenantName: "acme", scopes: [.v1]).token
        adminKey = try await management.createKey(tenantName: "acme", name: "ops", scopes: [.admin]).token
        let revoked = try await management.createKey(tenantName: "acme", scopes: Set(Scope.allCases))
        _ = try await management.revokeKey(prefix: revoked.key.prefix)
        revokedKey = revoked.token
    }

    /// Runs `body` against the public listener's router, without a socket.
    func withPublicClient(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await gateway.publicApplication.test(.router, body)
    }

    /// Runs `body` against the admin listener's router, without a socket.
    func withAdminClient(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await gateway.adminApplication.test(.router, body)
    }
}

/// `Authorization: Bearer <token>` headers.
func bearer(_ token: String) -> HTTPFields {
    [.authorization: "Bearer \(token)"]
}

extension TestResponse {
    /// The body decoded as a JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }
}
