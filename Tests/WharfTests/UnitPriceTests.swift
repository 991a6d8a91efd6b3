import Testing
import WharfCore

/// Prices as orchestrators quote them and customers cap them: exact, and never a trap on a hostile number.
@Suite(.layer(.unit)) struct UnitPriceTests {
    @Test func costRoundsUpToTheNextWei() {
        #expect(UnitPrice(pricePerUnit: 25, pixelsPerUnit: 1_000_000).cost(units: 1_000_000) == 25)
        #expect(UnitPrice(pricePerUnit: 25, pixelsPerUnit: 1_000_000).cost(units: 1) == 1)
        #expect(UnitPrice(pricePerUnit: 3, pixelsPerUnit: 2).cost(units: 3) == 5)
        #expect(UnitPrice(pricePerUnit: 0, pixelsPerUnit: 7).cost(units: 1_000) == 0)
    }

    @Test func hostileNumbersGiveNoCostInsteadOfATrap() {
        // The product overflows.
        #expect(UnitPrice(pricePerUnit: .max, pixelsPerUnit: 1).cost(units: 2) == nil)
        // Rounding up used to add the units first, which overflowed for a huge `pixelsPerUnit`.
        #expect(UnitPrice(pricePerUnit: 1, pixelsPerUnit: .max).cost(units: 1) == 1)
        // A price without units (never read from the wire, but a value can be built).
        #expect(UnitPrice(pricePerUnit: 1, pixelsPerUnit: 0).cost(units: 1) == nil)
    }

    @Test func capsCompareExactlyAndTheTighterWins() throws {
        let cap = try #require(UnitPrice(parsing: "25/1000000"))
        #expect(UnitPrice(pricePerUnit: 1, pixelsPerUnit: 40_000).isAtMost(cap))
        #expect(!UnitPrice(pricePerUnit: 26, pixelsPerUnit: 1_000_000).isAtMost(cap))
        #expect(UnitPrice.tighter(cap, UnitPrice(pricePerUnit: 1, pixelsPerUnit: 1)) == cap)
        #expect(UnitPrice.tighter(nil, cap) == cap)
        for bad in ["", "-1", "1/0", "1/-5", "a/b", "1/2/3"] { #expect(UnitPrice(parsing: bad) == nil, "\(bad)") }
    }
}
