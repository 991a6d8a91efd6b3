import Synchronization
public import WharfCore

// What customers pay: their price book's price, or network cost with the operator's markup (the
// default book), in the operator's currency's minor units when it bills in one.
extension PolicyEngine {
    /// The customer amount for a network cost under the default book: with the markup, rounded up,
    /// and converted to the currency's minor units (rounded up) when there is a currency.
    public func charge(for networkCost: Int64) -> Int64 {
        let marked = networkCost.multipliedClamped(by: Int64(100 + markupPercent))
        let wei = marked == .max ? .max : marked / 100 + (marked % 100 > 0 ? 1 : 0)
        return currency.map { $0.minorUnits(forWei: wei) } ?? wei
    }

    /// The most network cost an amount of the default book allows (rounded down): what a budget's
    /// room means to routing.
    func networkCost(forCharge amount: Int64) -> Int64 {
        let wei = currency.map { $0.wei(forMinorUnits: amount) } ?? amount
        let (scaled, overflow) = wei.multipliedReportingOverflow(by: 100)
        return overflow ? wei / Int64(100 + markupPercent) * 100 : scaled / Int64(100 + markupPercent)
    }

    /// The price book a tenant pays by, if any: from the cache while fresh, as limits are.
    public func priceBook(tenantID: String) async throws -> PriceBook? {
        let now = RateLimiter.monotonicSeconds()
        if let entry = priceBooks.withLock({ $0[tenantID] }), now - entry.readAt < cacheLifetime { return entry.book }
        let book = try await store.priceBookName(tenantID: tenantID).asyncFlatMap { try await store.priceBook(named: $0) }
        priceBooks.withLock { books in
            if books.count > 100_000 { books.removeAll() }
            books[tenantID] = (book, now)
        }
        return book
    }

    /// What a step costs its tenant: the price book's price for its usage when the tenant has a
    /// book, else its network cost under the default book.
    /// - Throws: ``PolicyRefusal`` (`not-priced`) when the tenant's book has no price for the step.
    public func customerAmount(tenantID: String, networkCost: Int64, usage: ChargedUsage?) async throws -> (amount: Int64, book: PriceBook?)
    {
        guard let book = try await priceBook(tenantID: tenantID) else { return (charge(for: networkCost), nil) }
        guard let usage, let amount = book.amount(for: usage) else {
            throw PolicyRefusal(
                .notPriced,
                subject: .tenant(tenantID),
                "the price book '\(book.name)' has no price for \(usage?.pipeline ?? "this step")\(usage?.model.map { " (\($0))" } ?? "")"
            )
        }
        return (amount, book)
    }
}

extension Optional {
    /// `flatMap` for an asynchronous transform.
    func asyncFlatMap<Mapped>(_ transform: (Wrapped) async throws -> Mapped?) async rethrows -> Mapped? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
