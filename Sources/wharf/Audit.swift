import ArgumentParser
import Foundation
import WharfCore
import WharfPolicy

/// `wharf audit …`: read and check the audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "List, export and verify the audit log.",
        discussion: """
            Every admin write (tenants, keys, limits), from the command line or the admin API, appends \
            one entry. Each entry holds the SHA-256 hash of its fields and of the entry before it, so \
            an entry changed or removed afterwards is found by `wharf audit verify`.
            """,
        subcommands: [List.self, Export.self, Verify.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the most recent entries as a table, oldest first.")

        @OptionGroup var options: CommonOptions
        @Option(help: "How many entries.") var limit = 20
        @Option(help: "Only this action, such as key.create.") var action: String?
        @Option(help: "Only this actor, such as cli:alice or key:<prefix>.") var actor: String?
        @Option(help: "Only this result: success, denied or failed.") var result: String?

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            let query = AuditQuery(action: action, actor: actor, result: result, limit: AuditLog.pageSize)
            // Pages run oldest first; the last `limit` entries are the recent ones.
            var recent: [AuditEntry] = []
            try await failing {
                for try await entry in AuditLog.entries(in: store, matching: query) {
                    recent.append(entry)
                    if recent.count > limit { recent.removeFirst(recent.count - limit) }
                }
            }
            printTable(
                header: ["SEQ", "AT", "ACTOR", "ACTION", "TARGET", "SOURCE", "RESULT", "DETAIL"],
                rows: recent.map { entry in
                    let record = entry.record
                    return [
                        String(entry.sequence), AuditLog.timestamp(record.at), record.actor, record.action, record.target ?? "-",
                        record.source ?? "-", record.result, Self.shortened(record.detail ?? "-"),
                    ]
                }
            )
        }

        /// `text` on one line, cut to 80 characters.
        static func shortened(_ text: String) -> String {
            let line = text.replacingOccurrences(of: "\n", with: " ")
            return line.count > 80 ? line.prefix(79) + "…" : line
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every entry as JSON lines.",
            discussion: "One JSON object per line, in sequence order, with the fields the admin API's GET /admin/v1/audit shows."
        )

        @OptionGroup var options: CommonOptions
        @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file")) var output: String?

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            let destination: FileHandle
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil),
                    let file = FileHandle(forWritingAtPath: output)
                else {
                    printError("cannot write to \(output)")
                    throw ExitCode.failure
                }
                destination = file
            } else {
                destination = FileHandle.standardOutput
            }
            var buffer: [UInt8] = []
            var count = 0
            try await failing {
                for try await entry in AuditLog.entries(in: store, matching: AuditQuery(limit: AuditLog.pageSize)) {
                    buffer += try AuditLog.jsonLine(entry)
                    count += 1
                    if buffer.count >= 1 << 16 {
                        try destination.write(contentsOf: buffer)
                        buffer.removeAll(keepingCapacity: true)
                    }
                }
                try destination.write(contentsOf: buffer)
            }
            if let output {
                try destination.close()
                printNote("wrote \(count) entries to \(output)")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that no entry was changed or removed.",
            discussion: """
                Reads the whole log in sequence order and recomputes the hash chain. Prints the number of \
                entries and the last entry's hash and exits 0 when the log is intact; names the first \
                entry that does not fit and exits 1 otherwise. Keep the printed hash somewhere else: an \
                entry removed from the end can only be noticed against it.
                """
        )

        @OptionGroup var options: CommonOptions

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            switch try await failing({ try await AuditLog.verify(store) }) {
            case .intact(let count, let head):
                printNow("audit log intact: \(count) \(count == 1 ? "entry" : "entries"), head \(head)")
            case .broken(let sequence, let reason):
                printError("audit log altered at entry \(sequence): \(reason)")
                throw ExitCode.failure
            }
        }
    }
}
