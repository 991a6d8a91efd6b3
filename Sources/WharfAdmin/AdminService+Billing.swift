import Foundation
package import OpenAPIRuntime
package import WharfAPIAdmin
import WharfCore
import WharfPolicy

// Billing: invoices and usage events from the spend ledger.
extension AdminService {
    var billing: Billing<Store> { Billing(store: store, currency: currency) }

    package func getTenantInvoice(_ input: Operations.GetTenantInvoice.Input) async throws -> Operations.GetTenantInvoice.Output {
        guard let month = BillingMonth(input.path.month) else {
            throw AdminProblem.badRequest("month must be yyyy-mm (a year from 2000 to 9999)")
        }
        let invoice: Invoice
        do {
            invoice = try await billing.invoice(tenantNamed: input.path.name, month: month)
        } catch {
            throw AdminProblem.translating(error, notFoundKind: "tenant-not-found")
        }
        let wantsCSV = input.headers.accept.sortedByQuality().first?.contentType == .csv
        if wantsCSV {
            return .ok(.init(body: .csv(HTTPBody(invoice.csv))))
        }
        return .ok(.init(body: .json(try JSONDecoder.billing.decode(Components.Schemas.Invoice.self, from: try invoice.json()))))
    }

    package func listUsageEvents(_ input: Operations.ListUsageEvents.Input) async throws -> Operations.ListUsageEvents.Output {
        let query = input.query
        guard query.from < query.to else { throw AdminProblem.badRequest("from must be before to") }
        let limit = query.limit ?? 100
        guard (1...1000).contains(limit) else { throw AdminProblem.badRequest("limit must be from 1 to 1000") }
        var tenant: Tenant?
        if let name = query.tenant {
            guard let found = try await store.tenant(named: name) else {
                throw AdminProblem.notFound("tenant-not-found", "no tenant named '\(name)'")
            }
            tenant = found
        }
        let entries: [LedgerEntry]
        do {
            entries = try await store.ledgerEntries(tenantID: tenant?.id, from: query.from, to: query.to, after: query.after, limit: limit)
        } catch let error as WharfError where error.code == .invalidArgument {
            throw AdminProblem.badRequest(error.message)
        }
        var names: [String: String] = [:]
        var events: [Components.Schemas.UsageEvent] = []
        for entry in entries {
            if names[entry.record.tenantID] == nil {
                names[entry.record.tenantID] = try await store.tenant(id: entry.record.tenantID)?.name ?? ""
            }
            let event = UsageEvent(
                entry,
                tenant: names[entry.record.tenantID] ?? "",
                source: UsageEvent.defaultSource,
                currency: currency?.code
            )
            events.append(try JSONDecoder.billing.decode(Components.Schemas.UsageEvent.self, from: try event.json()))
        }
        return .ok(.init(body: .json(.init(data: events, nextAfter: entries.count == limit ? entries.last?.cursor : nil))))
    }
}

extension JSONDecoder {
    /// Reads what ``WharfPolicy/Invoice/json()`` and ``WharfPolicy/UsageEvent/json()`` write.
    fileprivate static var billing: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            try AdminDates().decode(try decoder.singleValueContainer().decode(String.self))
        }
        return decoder
    }
}
