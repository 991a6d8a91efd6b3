#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

extension Date {
    /// Milliseconds since 1970, rounded to the nearest, held to what `Int64` can count: a date from
    /// outside (a query's bound) can be absurd, and the conversion must not trap.
    public var epochMilliseconds: Int64 {
        let milliseconds = (timeIntervalSince1970 * 1000).rounded()
        guard milliseconds.isFinite else { return milliseconds < 0 ? .min : .max }
        return Int64(exactly: milliseconds) ?? (milliseconds < 0 ? .min : .max)
    }
}
