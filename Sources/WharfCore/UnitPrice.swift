import Foundation

/// A price on the network: `pricePerUnit` wei for every `pixelsPerUnit` units of work (pixels, audio
/// milliseconds, tokens). What orchestrators quote, what a customer caps, what a step is charged.
public struct UnitPrice: Sendable, Hashable {
    public var pricePerUnit: Int64
    /// Never below 1 in a price read from an orchestrator (the wire reader refuses 0).
    public var pixelsPerUnit: Int64

    public init(pricePerUnit: Int64, pixelsPerUnit: Int64) {
        self.pricePerUnit = pricePerUnit
        self.pixelsPerUnit = pixelsPerUnit
    }

    /// Wei for `units` units of work, rounded up; `nil` when it cannot be computed (an overflow, or
    /// a price without units).
    public func cost(units: Int64) -> Int64? {
        guard pixelsPerUnit > 0 else { return nil }
        let (product, overflow) = units.multipliedReportingOverflow(by: pricePerUnit)
        guard !overflow else { return nil }
        let (quotient, remainder) = product.quotientAndRemainder(dividingBy: pixelsPerUnit)
        return remainder > 0 ? quotient + 1 : quotient
    }
}

extension UnitPrice {
    /// Whether this price is at most `cap`, compared exactly (as fractions of wei per unit).
    public func isAtMost(_ cap: UnitPrice) -> Bool {
        Int128(pricePerUnit) * Int128(cap.pixelsPerUnit) <= Int128(cap.pricePerUnit) * Int128(pixelsPerUnit)
    }

    /// Reads a price written as `<wei>` (per unit) or `<wei>/<units>` (`1000/1`, `25/1000000`).
    /// - Returns: `nil` unless both numbers are whole, the price is not negative and the units positive.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard (1...2).contains(parts.count), let wei = Int64(parts[0]), wei >= 0 else { return nil }
        let units = parts.count == 2 ? Int64(parts[1]) : 1
        guard let units, units > 0 else { return nil }
        self.init(pricePerUnit: wei, pixelsPerUnit: units)
    }

    /// The lower of two optional caps (`nil` is no cap).
    public static func tighter(_ first: Self?, _ second: Self?) -> Self? {
        guard let first else { return second }
        guard let second else { return first }
        return first.isAtMost(second) ? first : second
    }
}
