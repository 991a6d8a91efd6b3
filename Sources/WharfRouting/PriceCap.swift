public import WharfLivepeer

extension OrchestratorOffer.Price {
    /// Whether this price is at most `cap`, compared exactly (as fractions of wei per unit).
    public func isAtMost(_ cap: OrchestratorOffer.Price) -> Bool {
        Int128(pricePerUnit) * Int128(cap.pixelsPerUnit) <= Int128(cap.pricePerUnit) * Int128(pixelsPerUnit)
    }

    /// Wei per unit as a floating-point number, for scoring only.
    var weiPerUnit: Double { Double(pricePerUnit) / Double(pixelsPerUnit) }
}
