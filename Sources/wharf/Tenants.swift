import ArgumentParser
import Foundation
import WharfCore
import WharfPolicy

/// `wharf tenants …`: manage tenants in the store directly.
struct Tenants: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create and list tenants (customer accounts).",
        subcommands: [Create.self, List.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant.",
            discussion: """
                Prints the new tenant's id. Names are 1-64 lower-case letters, digits, '-' or '_'. \
                Recorded in the audit log as tenant.create.
                """
        )

        @OptionGroup var options: CommonOptions
        @Argument(help: "The tenant's unique name.") var name: String

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            let tenant = try await failing {
                try await AdminOperations(store: store, actor: commandLineActor).createTenant(name: name)
            }
            print(tenant.id)
            printNote("created tenant '\(tenant.name)'")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants, oldest first.")

        @OptionGroup var options: CommonOptions

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            let tenants = try await failing { try await KeyManagement(store: store).listTenants() }
            printTable(
                header: ["ID", "NAME", "CREATED"],
                rows: tenants.map { [$0.id, $0.name, $0.createdAt.formatted(.iso8601)] }
            )
        }
    }
}

/// Prints rows in aligned columns.
func printTable(header: [String], rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        let cells = row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }
        print(cells.joined(separator: "  "))
    }
}
