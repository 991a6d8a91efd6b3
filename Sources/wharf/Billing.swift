import ArgumentParser
import Foundation
import WharfCore
import WharfPolicy
import WharfServer

/// `wharf billing …`: invoices and usage events from the spend ledger.
struct BillingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "billing",
        abstract: "Export invoices and usage events from the spend ledger.",
        subcommands: [Export.self, Events.self]
    )

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a month's invoices.",
            discussion: """
                One invoice per tenant (or only --tenant's) for a UTC calendar month: a line per preset, \
                pipeline and model with its quantity, units, unit price and amount, and the total; the \
                same as GET /admin/v1/tenants/{name}/invoices/{month}. JSON lines (one invoice per line, \
                sorted keys) or CSV. The same month exported twice is identical.
                """
        )

        @OptionGroup var options: CommonOptions
        @Option(help: ArgumentHelp("The month, yyyy-mm (UTC).", valueName: "yyyy-mm")) var month: String
        @Option(help: "Only this tenant (its name).") var tenant: String?
        @Option(help: "json or csv.") var format = "json"

        func validate() throws {
            guard BillingMonth(month) != nil else { throw ValidationError("--month must be yyyy-mm") }
            guard ["json", "csv"].contains(format) else { throw ValidationError("--format must be json or csv") }
        }

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            guard let month = BillingMonth(month) else { throw ExitCode.validationFailure }
            let billing = Billing(store: store, currency: configuration.billingCurrency)
            let invoices = try await failing {
                if let tenant { return [try await billing.invoice(tenantNamed: tenant, month: month)] }
                return try await billing.invoices(month: month)
            }
            for (index, invoice) in invoices.enumerated() {
                if format == "csv" {
                    // One header for all: each invoice's rows after the first's header.
                    let rows = invoice.csv.components(separatedBy: "\r\n")
                    FileHandle.standardOutput.write(Data((index == 0 ? rows : Array(rows.dropFirst())).joined(separator: "\r\n").utf8))
                } else {
                    FileHandle.standardOutput.write(try invoice.json() + Data("\n".utf8))
                }
            }
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write charges as CloudEvents JSON lines.",
            discussion: """
                Every charge of a month (or of --from to --to), oldest first, one CloudEvent 1.0 per line \
                (type io.wharf.usage.charged; id <job>/<step>, the same every export, for deduplication); \
                the same events as GET /admin/v1/usage/events. Read from the ledger a page at a time.
                """
        )

        @OptionGroup var options: CommonOptions
        @Option(help: ArgumentHelp("The month, yyyy-mm (UTC).", valueName: "yyyy-mm")) var month: String?
        @Option(help: "Only this tenant (its name).") var tenant: String?

        func validate() throws {
            guard month.map({ BillingMonth($0) != nil }) ?? false else { throw ValidationError("--month must be yyyy-mm") }
        }

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let store = try await options.openStore(configuration)
            guard let month = month.flatMap(BillingMonth.init) else { throw ExitCode.validationFailure }
            var tenantID: String?
            if let tenant {
                guard let found = try await failing({ try await store.tenant(named: tenant) }) else {
                    printError("no tenant named '\(tenant)'")
                    throw ExitCode.failure
                }
                tenantID = found.id
            }
            let events = Billing(store: store, currency: configuration.billingCurrency).usageEvents(
                tenantID: tenantID,
                from: month.start,
                to: month.end,
                source: UsageEvent.defaultSource
            )
            var buffer = Data()
            try await failing {
                for try await event in events {
                    buffer += event + Data("\n".utf8)
                    if buffer.count >= 1 << 16 {
                        FileHandle.standardOutput.write(buffer)
                        buffer.removeAll(keepingCapacity: true)
                    }
                }
            }
            FileHandle.standardOutput.write(buffer)
        }
    }
}
