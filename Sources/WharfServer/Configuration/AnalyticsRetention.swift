/// How long analytics keep their finer data (`analytics.raw_retention_days`,
/// `analytics.minute_retention_days`, `analytics.hour_retention_days`); day roll-ups stay.
public struct AnalyticsRetention: Sendable, Hashable {
    /// Days raw network attempts are kept.
    public var rawDays = 30
    /// Days per-minute roll-ups are kept.
    public var minuteDays = 3
    /// Days per-hour roll-ups are kept.
    public var hourDays = 90

    public init(rawDays: Int = 30, minuteDays: Int = 3, hourDays: Int = 90) {
        self.rawDays = rawDays
        self.minuteDays = minuteDays
        self.hourDays = hourDays
    }
}
