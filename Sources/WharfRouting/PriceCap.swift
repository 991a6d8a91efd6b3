import Foundation
public import WharfLivepeer

extension OrchestratorOffer.Price {
    /// Whether this price is at most `cap`, compared exactly (as fractions of wei per unit).
    public func isAtMost(_ cap: OrchestratorOffer.Price) -> Bool {
        Int128(pricePerUnit) * Int128(cap.pixelsPerUnit) <= Int128(cap.pricePerUnit) * Int128(pixelsPerUnit)
    }

    /// Wei per unit as a floating-point number, for scoring only.
    var weiPerUnit: Double { Double(pricePerUnit) / Double(pixelsPerUnit) }
}

extension OrchestratorOffer.Price {
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
