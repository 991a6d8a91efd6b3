import ArgumentParser
import Foundation
import WharfCore
import WharfPolicy

/// `wharf keys …`: manage API keys in the store directly (also how the first admin key is made).
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke API keys.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key and print it once.",
            discussion: """
                The key is printed on standard output and never again: only its SHA-256 digest is stored. \
                Bootstrap the admin API with `wharf keys create --tenant NAME --scope admin`. \
                Recorded in the audit log as key.create (without the token).
                """
        )

        @OptionGroup var options: CommonOptions
        @Option(help: "The tenant the key acts for (must exist).") var tenant: String
        @Option(
            help: ArgumentHelp(
                "A scope the key gets: v1, v2 or admin. Repeat or separate with commas.",
                discussion: "Defaults to v1,v2."
            )
        )
        var scope: [String] = []
        @Option(help: "A label for the key.") var name = "default"

        func run() async throws {
            let scopes = try await failing { try Scope.parseList((scope.isEmpty ? ["v1", "v2"] : scope).joined(separator: ",")) }
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            let created = try await failing {
                try await AdminOperations(store: store, actor: commandLineActor).createKey(tenantName: tenant, name: name, scopes: scopes)
            }
            print(created.token)
            let scopeList = created.key.scopes.sorted().map(\.rawValue).joined(separator: ",")
            printNote("created key \(created.key.prefix) for tenant '\(tenant)' with scopes \(scopeList); it is shown only once")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (prefixes only, never secrets).")

        @OptionGroup var options: CommonOptions
        @Option(help: "Only this tenant's keys.") var tenant: String?

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            let management = KeyManagement(store: store)
            let keys = try await failing { try await management.listKeys(tenantName: tenant) }
            let tenantNames = Dictionary(
                uniqueKeysWithValues: try await failing { try await management.listTenants() }.map { ($0.id, $0.name) }
            )
            printTable(
                header: ["PREFIX", "TENANT", "NAME", "SCOPES", "CREATED", "STATUS"],
                rows: keys.map { key in
                    [
                        key.prefix, tenantNames[key.tenantID] ?? key.tenantID, key.name,
                        key.scopes.sorted().map(\.rawValue).joined(separator: ","),
                        key.createdAt.formatted(.iso8601),
                        key.revokedAt.map { "revoked \($0.formatted(.iso8601))" } ?? "active",
                    ]
                }
            )
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key by its prefix.",
            discussion: """
                Requests with the key get 401 from the next request on. Revoking is permanent. \
                Recorded in the audit log as key.revoke.
                """
        )

        @OptionGroup var options: CommonOptions
        @Argument(help: "The key's prefix, as `wharf keys list` shows it.") var prefix: String

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            let key = try await failing { try await AdminOperations(store: store, actor: commandLineActor).revokeKey(prefix: prefix) }
            print("revoked \(key.prefix)")
        }
    }
}
