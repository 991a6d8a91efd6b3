import ArgumentParser
import Foundation
import WharfCore
import WharfPolicy

/// `wharf limits …`: the limits of a tenant or key, in the store directly.
struct LimitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits",
        abstract: "Show, set and clear the limits of a tenant or an API key.",
        discussion: """
            Limits are the networks requests may come from, a request rate, how many jobs may run and \
            wait at once, and budgets. A key's limits apply on top of its tenant's. Changes are \
            recorded in the audit log (limits.set, limits.clear).
            """,
        subcommands: [Show.self, Update.self, Clear.self]
    )

    /// `--tenant NAME` or `--key PREFIX`, exactly one.
    struct SubjectOptions: ParsableArguments {
        @Option(help: "The tenant, by name.") var tenant: String?
        @Option(help: "The API key, by prefix (as `wharf keys list` shows it).") var key: String?

        func validate() throws {
            guard (tenant == nil) != (key == nil) else {
                throw ValidationError("give either --tenant NAME or --key PREFIX")
            }
        }

        var subject: PolicySubjectName {
            if let tenant { .tenant(name: tenant) } else { .key(prefix: key ?? "") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the limits as JSON.",
            discussion: "Prints {} when none are set."
        )

        @OptionGroup var options: CommonOptions
        @OptionGroup var subject: SubjectOptions

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            let limits = try await failing { try await LimitsManagement(store: store).limits(of: subject.subject) }
            if limits == nil { printNote("no limits set for \(subject.subject)") }
            printNow(try prettyJSON(limits ?? Limits()))
        }
    }

    /// `wharf limits set`.
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Change some limits, keeping the others.",
            discussion: """
                Each option given replaces that limit; the rest stay as they are. Repeat --allow and \
                --alert-percent for several values (they replace the whole list). Prints the limits as \
                stored.
                """
        )

        @OptionGroup var options: CommonOptions
        @OptionGroup var subject: SubjectOptions
        @Option(name: .customLong("allow"), help: ArgumentHelp("A network requests may come from (CIDR).", valueName: "cidr"))
        var allowedNetworks: [String] = []
        @Option(help: ArgumentHelp("Sustained requests per second.", valueName: "per-second")) var rate: Double?
        @Option(help: "Requests allowed back to back (needed with the first --rate).") var burst: Int?
        @Option(help: "Jobs running at once.") var maxConcurrentJobs: Int?
        @Option(help: "Jobs waiting for a slot at once.") var maxQueuedJobs: Int?
        @Option(help: "Most spent per UTC day, in price units.") var daily: Int64?
        @Option(help: "Most spent per UTC month, in price units.") var monthly: Int64?
        @Option(help: "Most one job may cost, in price units.") var perJob: Int64?
        @Option(name: .customLong("alert-percent"), help: "A percentage of the daily and monthly budgets that sends an alert.")
        var alertPercents: [Int] = []
        @Option(help: "Bytes of files a tenant may keep (a tenant's limit).") var storageMaxBytes: Int64?
        @Option(help: "Files a tenant may keep (a tenant's limit).") var storageMaxFiles: Int?

        func validate() throws {
            let nothing =
                allowedNetworks.isEmpty && rate == nil && burst == nil && maxConcurrentJobs == nil && maxQueuedJobs == nil
                && daily == nil && monthly == nil && perJob == nil && alertPercents.isEmpty && storageMaxBytes == nil
                && storageMaxFiles == nil
            if nothing { throw ValidationError("nothing to set: give at least one limit option") }
        }

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            let stored = try await failing {
                try await AdminOperations(store: store, actor: commandLineActor).updateLimits(of: subject.subject, apply)
            }
            printNow(try prettyJSON(stored))
        }

        /// Puts the options given into `limits`.
        func apply(to limits: inout Limits) throws {
            if !allowedNetworks.isEmpty {
                limits.allowedNetworks = try allowedNetworks.map { text in
                    guard let network = CIDR(text) else {
                        throw WharfError(
                            .invalidArgument,
                            "--allow '\(text)' is not an IPv4 or IPv6 network (CIDR such as 203.0.113.0/24 or 2001:db8::/32)"
                        )
                    }
                    return network
                }
            }
            if rate != nil || burst != nil {
                guard let requestsPerSecond = rate ?? limits.rate?.requestsPerSecond, let burst = burst ?? limits.rate?.burst else {
                    throw WharfError(.invalidArgument, "no rate limit is set yet: give both --rate and --burst")
                }
                limits.rate = RateLimit(requestsPerSecond: requestsPerSecond, burst: burst)
            }
            if let maxConcurrentJobs { limits.maxConcurrentJobs = maxConcurrentJobs }
            if let maxQueuedJobs { limits.maxQueuedJobs = maxQueuedJobs }
            if daily != nil || monthly != nil || perJob != nil || !alertPercents.isEmpty {
                var budget = limits.budget ?? Budget()
                if let daily { budget.daily = daily }
                if let monthly { budget.monthly = monthly }
                if let perJob { budget.perJob = perJob }
                if !alertPercents.isEmpty { budget.alertPercents = alertPercents }
                limits.budget = budget
            }
            if storageMaxBytes != nil || storageMaxFiles != nil {
                var storage = limits.storage ?? StorageQuota()
                if let storageMaxBytes { storage.maxBytes = storageMaxBytes }
                if let storageMaxFiles { storage.maxFiles = storageMaxFiles }
                limits.storage = storage
            }
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every limit.")

        @OptionGroup var options: CommonOptions
        @OptionGroup var subject: SubjectOptions

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            try await failing { try await AdminOperations(store: store, actor: commandLineActor).clearLimits(of: subject.subject) }
            printNote("cleared the limits of \(subject.subject)")
        }
    }
}

/// A value as indented JSON with sorted keys.
private func prettyJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
