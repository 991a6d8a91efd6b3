import ArgumentParser
import Foundation
import WharfCore
import WharfPostgres
import WharfStore

/// `wharf store`: work on stores as a whole.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Work on stores as a whole.",
        subcommands: [Copy.self]
    )

    /// `wharf store copy --from sqlite:PATH --to postgres:URL`: moving off SQLite.
    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy everything from a SQLite store into an empty PostgreSQL database, then check it.",
            discussion: """
                Copies tenants, keys, limits, jobs with their steps, attempts, artifacts' rows and events, \
                uploaded files' rows, spending and its totals, idempotency keys, webhook deliveries and the \
                audit log; then checks that every table holds as many rows as the source and that the audit \
                chain is intact. Stop the gateway on the SQLite file first. Artifact and file bytes stay in \
                their folder (artifacts.directory): give the new nodes that folder, or a copy of it.
                """
        )

        @Option(help: "The source, sqlite:PATH (a Wharf SQLite database).") var from: String
        @Option(help: "The target, postgres:URL (postgres://user:password@host:port/database), migrated and empty.")
        var to: String

        func run() async throws {
            guard from.hasPrefix("sqlite:"), !from.dropFirst(7).isEmpty else {
                throw ValidationError("--from must be sqlite:PATH")
            }
            guard to.hasPrefix("postgres:") else { throw ValidationError("--to must be postgres:URL") }
            let path = String(from.dropFirst("sqlite:".count))
            guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no SQLite database at \(path)") }
            try await failing {
                let settings = try PostgresSettings(url: String(to.dropFirst("postgres:".count)))
                let source = try SQLiteStore(path: path)
                _ = try await source.migrate()
                let target = PostgresStore(settings: settings, blobDirectory: source.artifactsDirectory)
                let report: StoreCopyReport
                do {
                    _ = try await target.migrate()
                    report = try await target.copy(from: source) { table, rows in
                        printNote("\(table): \(rows) rows")
                    }
                    await target.shutdown()
                } catch {
                    await target.shutdown()
                    throw error
                }
                for table in report.tables { print("\(table.name)\t\(table.rows)") }
                switch report.audit {
                case .intact(let count, let head):
                    print("audit log: \(count) entries, intact, head \(head)")
                case .broken(let sequence, let reason):
                    printError("audit log broken at entry \(sequence): \(reason)")
                    throw ExitCode(1)
                }
                printNote("copied \(path) to \(settings)")
            }
        }
    }
}
