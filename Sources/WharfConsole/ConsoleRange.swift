import Foundation
import WharfCore

/// The time ranges the console's pages offer, each with the roll-up window that draws it.
enum ConsoleRange: String, CaseIterable, Sendable {
    case lastHour = "1h"
    case lastDay = "24h"
    case lastWeek = "7d"
    case lastMonth = "30d"

    var seconds: TimeInterval {
        switch self {
        case .lastHour: 3_600
        case .lastDay: 86_400
        case .lastWeek: 7 * 86_400
        case .lastMonth: 30 * 86_400
        }
    }

    /// Minutes for an hour, hours for a day or a week, days for a month.
    var window: AnalyticsResolution {
        switch self {
        case .lastHour: .minute
        case .lastDay, .lastWeek: .hour
        case .lastMonth: .day
        }
    }

    /// The window for questions kept by the hour and the day only (pairs, scorecards).
    var coarseWindow: AnalyticsResolution { self == .lastMonth ? .day : .hour }

    var label: String {
        switch self {
        case .lastHour: "Last hour"
        case .lastDay: "Last 24 hours"
        case .lastWeek: "Last 7 days"
        case .lastMonth: "Last 30 days"
        }
    }

    /// The range a query parameter names; the last 24 hours when it names none.
    init(query: String?) {
        self = query.flatMap(ConsoleRange.init(rawValue:)) ?? .lastDay
    }

    /// `[from, to)` ending now.
    func interval(now: Date) -> (from: Date, to: Date) {
        (now.addingTimeInterval(-seconds), now)
    }

    /// The start of every window of the range, oldest first (what a chart's x axis shows).
    func windowStarts(now: Date) -> [Date] {
        let (from, to) = interval(now: now)
        let step = Int(window.seconds)
        let first = window.bucketStart(of: from)
        let last = window.bucketStart(of: to)
        return stride(from: Int(first), through: Int(last), by: step).map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }
}
