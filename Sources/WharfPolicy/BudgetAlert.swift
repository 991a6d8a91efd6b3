public import WharfCore

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Spending crossed an alert threshold of a budget.
public struct BudgetAlert: Sendable, Hashable, Codable {
    public var subject: PolicySubject
    /// `daily` or `monthly`.
    public var period: String
    public var limit: Int64
    /// Spent in the period, this step included.
    public var spent: Int64
    /// The threshold crossed, in percent of the limit.
    public var percent: Int
    /// The job whose step crossed it.
    public var jobID: String
    public var at: Date

    enum CodingKeys: String, CodingKey {
        case subject, period, limit, spent, percent
        case jobID = "job_id"
        case at
    }

    public init(subject: PolicySubject, period: String, limit: Int64, spent: Int64, percent: Int, jobID: String, at: Date) {
        self.subject = subject
        self.period = period
        self.limit = limit
        self.spent = spent
        self.percent = percent
        self.jobID = jobID
        self.at = at
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .subject)
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            throw DecodingError.dataCorruptedError(forKey: .subject, in: container, debugDescription: "subject must be kind:id")
        }
        subject = parts[0] == "key" ? .key(parts[1]) : .tenant(parts[1])
        period = try container.decode(String.self, forKey: .period)
        limit = try container.decode(Int64.self, forKey: .limit)
        spent = try container.decode(Int64.self, forKey: .spent)
        percent = try container.decode(Int.self, forKey: .percent)
        jobID = try container.decode(String.self, forKey: .jobID)
        at = try container.decode(Date.self, forKey: .at)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(subject.description, forKey: .subject)
        try container.encode(period, forKey: .period)
        try container.encode(limit, forKey: .limit)
        try container.encode(spent, forKey: .spent)
        try container.encode(percent, forKey: .percent)
        try container.encode(jobID, forKey: .jobID)
        try container.encode(at, forKey: .at)
    }
}
