public import WharfCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// Price books (docs/BILLING.md), audited like every admin write.
extension AdminOperations {
    /// Creates or replaces a price book (`price-book.set`; target `price-book:<name>`; detail: the
    /// book's prices).
    /// - Throws: ``WharfError/Code/invalidArgument`` for a book that is not well formed, or when the
    ///   gateway has no billing currency (price books price in it).
    @discardableResult
    public func savePriceBook(_ book: PriceBook, currency: BillingCurrency?) async throws -> PriceBook {
        try await trail.record(.priceBookSet, target: "price-book:\(book.name)") {
            guard currency != nil else {
                throw WharfError(
                    .invalidArgument,
                    "price books price in the operator's currency: set billing.currency (docs/CONFIGURATION.md) first"
                )
            }
            if let problem = book.problem() { throw WharfError(.invalidArgument, problem) }
            try await store.savePriceBook(book)
            return book
        } describe: { saved in
            AuditNote(detail: Self.json(saved.entries))
        }
    }

    /// Puts a tenant on a price book, or back on the default one with `nil` (`tenant.price-book`;
    /// target `tenant:<name>`; detail: the book).
    public func assignPriceBook(_ name: String?, tenantName: String) async throws {
        try await trail.record(.tenantPriceBook, target: "tenant:\(tenantName)") {
            guard let tenant = try await store.tenant(named: tenantName) else {
                throw WharfError(.notFound, "no tenant named '\(tenantName)'")
            }
            try await store.assignPriceBook(name, tenantID: tenant.id)
        } describe: { _ in
            AuditNote(detail: Self.json(["book": name ?? "default"]))
        }
    }
}
