#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// What the operator charges customers, independent of what the network costs: a price per unit,
/// per request or per second for each pipeline (and optionally model), in the operator's currency's
/// minor units (``BillingCurrency``). Tenants are assigned a book; a tenant without one pays the
/// default: network cost with the markup (`billing.markup_percent`).
public struct PriceBook: Sendable, Hashable, Codable {
    /// What a price is counted per.
    public enum Basis: String, Sendable, Hashable, Codable, CaseIterable {
        /// Per unit of the pipeline's work, as the network counts it (pixels, tokens, milliseconds
        /// of audio: the step's units).
        case unit
        /// Per network step (one request to the pipeline).
        case request
        /// Per second the orchestrator worked on the step (the answering attempt's time).
        case second
    }

    /// One price.
    public struct Entry: Sendable, Hashable, Codable {
        /// The pipeline (`text-to-image`), or `*` for every pipeline the book names no other way.
        public var pipeline: String
        /// The model, when the price is for one model only; `nil` for the pipeline's other models.
        public var model: String?
        public var basis: Basis
        /// The price, in minor units of the currency, for `per` of the basis.
        public var price: Int64
        /// How many units (or requests, or seconds) `price` is for: 1,000,000 for a price per
        /// megapixel. At least 1.
        public var per: Int64

        public init(pipeline: String, model: String? = nil, basis: Basis, price: Int64, per: Int64 = 1) {
            self.pipeline = pipeline
            self.model = model
            self.basis = basis
            self.price = price
            self.per = per
        }
    }

    /// The book's name: 1 to 64 letters, digits, `-` and `_`.
    public var name: String
    public var entries: [Entry]
    public var updatedAt: Date

    public init(name: String, entries: [Entry], updatedAt: Date = Date()) {
        self.name = name
        self.entries = entries
        self.updatedAt = updatedAt
    }

    /// The entry that prices `pipeline` and `model`: the model's own, else the pipeline's, else `*`.
    public func entry(pipeline: String, model: String?) -> Entry? {
        if let model, let own = entries.first(where: { $0.pipeline == pipeline && $0.model == model }) { return own }
        return entries.first { $0.pipeline == pipeline && $0.model == nil } ?? entries.first { $0.pipeline == "*" && $0.model == nil }
    }

    /// What a step with `usage` costs the customer, in minor units, rounded up; `nil` when the book
    /// has no price for it.
    public func amount(for usage: ChargedUsage) -> Int64? {
        guard let entry = entry(pipeline: usage.pipeline, model: usage.model) else { return nil }
        switch entry.basis {
        case .request:
            return Self.share(entry.price, of: 1, per: entry.per)
        case .unit:
            return Self.share(entry.price, of: max(0, usage.units), per: entry.per)
        case .second:
            // Milliseconds priced per `per` seconds.
            return Self.share(entry.price, of: max(0, usage.milliseconds ?? 0), per: entry.per.multipliedClamped(by: 1000))
        }
    }

    /// `price × quantity / per`, rounded up, without overflowing (clamped at `Int64.max`).
    public static func share(_ price: Int64, of quantity: Int64, per: Int64) -> Int64 {
        let divisor = max(1, per)
        let product = price.multipliedFullWidth(by: quantity)
        guard product.high >= 0 else { return 0 }
        let wide = (high: UInt64(product.high), low: product.low)
        guard wide.high < UInt64(divisor) else { return .max }
        let (quotient, remainder) = UInt64(divisor).dividingFullWidth(wide)
        let rounded = remainder > 0 ? quotient.addingReportingOverflow(1) : (partialValue: quotient, overflow: false)
        return rounded.overflow || rounded.partialValue > UInt64(Int64.max) ? .max : Int64(rounded.partialValue)
    }

    /// Whether the book is well formed; the reason when not.
    public func problem() -> String? {
        guard Self.isValidName(name) else { return "name must be 1 to 64 letters, digits, '-' and '_'" }
        guard !entries.isEmpty, entries.count <= 1_000 else { return "entries must hold 1 to 1000 prices" }
        var seen = Set<String>()
        for (index, entry) in entries.enumerated() {
            guard entry.pipeline == "*" || Pipeline(rawValue: entry.pipeline) != nil else {
                return "entries[\(index)].pipeline: '\(entry.pipeline)' is not a pipeline (or '*')"
            }
            guard entry.pipeline != "*" || entry.model == nil else { return "entries[\(index)]: '*' takes no model" }
            guard entry.model.map({ (1...256).contains($0.utf8.count) }) ?? true else {
                return "entries[\(index)].model must be 1 to 256 characters"
            }
            guard entry.price >= 0 else { return "entries[\(index)].price must not be negative" }
            guard entry.per >= 1 else { return "entries[\(index)].per must be at least 1" }
            guard seen.insert("\(entry.pipeline)\u{0}\(entry.model ?? "")").inserted else {
                return "entries[\(index)]: \(entry.pipeline)\(entry.model.map { " / \($0)" } ?? "") is priced twice"
            }
        }
        return nil
    }

    /// Whether `name` is 1 to 64 ASCII letters, digits, `-` and `_`.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            }
    }
}

/// The operator's currency, when it bills in one: its code, how many digits its minor unit has,
/// and how many wei of network cost one minor unit is worth, with the time that rate was set
/// (`billing.currency`, `billing.minor_unit_digits`, `billing.wei_per_minor_unit`,
/// `billing.rate_set_at`). With a currency, every amount the gateway charges, budgets and
/// invoices are in its minor units, and analytics shows margin.
public struct BillingCurrency: Sendable, Hashable {
    /// ISO 4217 code (`USD`).
    public var code: String
    /// Digits of the minor unit: 2 for cents, 6 for micros.
    public var minorUnitDigits: Int
    /// Wei of network cost per minor unit.
    public var weiPerMinorUnit: Int64
    /// When the rate was set.
    public var rateSetAt: Date

    public init(code: String, minorUnitDigits: Int, weiPerMinorUnit: Int64, rateSetAt: Date) {
        self.code = code
        self.minorUnitDigits = minorUnitDigits
        self.weiPerMinorUnit = weiPerMinorUnit
        self.rateSetAt = rateSetAt
    }

    /// Wei in minor units, rounded up (what the customer pays for network cost is never rounded
    /// in their favour below the cost).
    public func minorUnits(forWei wei: Int64) -> Int64 {
        PriceBook.share(1, of: max(0, wei), per: weiPerMinorUnit)
    }

    /// Wei in minor units, rounded down (a cost shown beside revenue).
    public func minorUnitsDown(forWei wei: Int64) -> Int64 {
        max(0, wei) / max(1, weiPerMinorUnit)
    }

    /// Minor units in wei, rounded down (the network cost a budget in the currency allows).
    public func wei(forMinorUnits amount: Int64) -> Int64 {
        max(0, amount).multipliedClamped(by: weiPerMinorUnit)
    }
}

/// Persistence of price books and which tenant pays by which.
public protocol PriceBookStore: Sendable {
    /// Creates or replaces a book by name.
    func savePriceBook(_ book: PriceBook) async throws
    /// A book by name.
    func priceBook(named name: String) async throws -> PriceBook?
    /// Every book, by name.
    func listPriceBooks() async throws -> [PriceBook]
    /// Assigns a book to a tenant; `nil` puts it back on the default (markup on network cost).
    /// - Throws: ``WharfError/Code/notFound`` for an unknown book.
    func assignPriceBook(_ name: String?, tenantID: String) async throws
    /// The name of the book a tenant pays by, if any.
    func priceBookName(tenantID: String) async throws -> String?
}

extension PriceBook {
    /// The book as a store keeps it: JSON with sorted keys, the time as seconds since 1970.
    public static func storedJSON(_ book: PriceBook) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        return String(decoding: try encoder.encode(book), as: UTF8.self)
    }

    /// A book from its stored JSON.
    public init(storedJSON text: String) throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        self = try decoder.decode(PriceBook.self, from: Data(text.utf8))
    }
}
