import Foundation
import WharfCore

/// How the console writes numbers, durations, money and times: the same way on every page, in UTC.
enum ConsoleFormat {
    /// `1,234,567`.
    static func count(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return (value < 0 ? "-" : "") + grouped
    }

    static func count(_ value: Int) -> String { count(Int64(value)) }

    /// `97.5%`, or a dash when there is nothing to measure.
    static func percent(_ rate: Double?) -> String {
        guard let rate, rate.isFinite else { return "–" }
        return String(format: "%.1f%%", rate * 100)
    }

    /// `840 ms` or `2.4 s`, or a dash.
    static func milliseconds(_ value: Int64?) -> String {
        guard let value else { return "–" }
        return value < 10_000 ? "\(count(value)) ms" : String(format: "%.1f s", Double(value) / 1000)
    }

    /// `USD 12.345600`: minor units as the currency's major unit, every digit of the minor unit kept.
    static func money(_ minor: Int64, in currency: BillingCurrency) -> String {
        let digits = min(max(currency.minorUnitDigits, 0), 18)
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let whole = count(minor / scale)
        guard digits > 0 else { return "\(currency.code) \(whole)" }
        let fraction = String(minor.magnitude % UInt64(scale))
        let padded = String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
        return "\(currency.code) \(minor < 0 && minor / scale == 0 ? "-" : "")\(whole).\(padded)"
    }

    /// A duration given in seconds (a measurement, a difference of stored times), as
    /// ``milliseconds(_:)`` writes it; a dash for none or for a value that is not a finite number.
    static func milliseconds(seconds: Double?) -> String {
        guard let seconds, seconds.isFinite else { return "–" }
        let clamped = min(max(seconds * 1000, -9.0e15), 9.0e15)
        return milliseconds(Int64(clamped.rounded()))
    }

    /// An axis label for a value that may be large: `1.2k`, `3.4M`, `5.6G`.
    static func compact(_ value: Double) -> String {
        let magnitude = abs(value)
        for (limit, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] where magnitude >= limit {
            return String(format: "%.1f", value / limit) + suffix
        }
        return magnitude >= 10 || value == value.rounded() ? String(format: "%.0f", value) : String(format: "%.2f", value)
    }

    /// `2026-11-30 14:05 UTC`, or a dash.
    static func time(_ date: Date?) -> String {
        guard let date else { return "–" }
        let parts = utc(date)
        return String(format: "%04d-%02d-%02d %02d:%02d UTC", parts.year, parts.month, parts.day, parts.hour, parts.minute)
    }

    /// A window start on a chart's axis: the time of day for minute and hour windows, the date for days.
    static func axisLabel(_ date: Date, byDay: Bool) -> String {
        let parts = utc(date)
        guard byDay else { return String(format: "%02d:%02d", parts.hour, parts.minute) }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(months[min(max(parts.month, 1), 12) - 1]) \(parts.day)"
    }

    private static func utc(_ date: Date) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return (parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0)
    }
}
