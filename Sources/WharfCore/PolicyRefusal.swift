/// A request or job refused by policy: which rule refused it, for whom, and when to try again.
public struct PolicyRefusal: Error, Sendable, CustomStringConvertible {
    /// The rule that refused. Its raw value is the problem type's last path segment.
    public enum Rule: String, Sendable, Hashable, CaseIterable {
        /// The client address is outside the tenant's or key's allowed networks.
        case addressNotAllowed = "address-not-allowed"
        /// Too many requests in the rate limit's window.
        case rateLimited = "rate-limited"
        /// As many jobs as allowed are running and as many as allowed are waiting.
        case tooManyJobs = "too-many-jobs"
        /// The job would take spending over the daily limit.
        case dailyBudget = "daily-budget-exceeded"
        /// The job would take spending over the monthly limit.
        case monthlyBudget = "monthly-budget-exceeded"
        /// The job would cost more than one job may.
        case jobBudget = "job-cost-limit-exceeded"
        /// The tenant's price book has no price for the step.
        case notPriced = "not-priced"

        /// The HTTP status the refusal is answered with: 403 for addresses and unpriced steps, 402 for budgets, 429
        /// for rates and concurrency.
        public var status: Int {
            switch self {
            case .addressNotAllowed, .notPriced: 403
            case .rateLimited, .tooManyJobs: 429
            case .dailyBudget, .monthlyBudget, .jobBudget: 402
            }
        }

        /// A short title for problem documents.
        public var title: String {
            switch self {
            case .addressNotAllowed: "Address not allowed"
            case .rateLimited: "Too many requests"
            case .tooManyJobs: "Too many jobs"
            case .dailyBudget: "Daily budget exceeded"
            case .monthlyBudget: "Monthly budget exceeded"
            case .jobBudget: "Job cost limit exceeded"
            case .notPriced: "Not priced"
            }
        }
    }

    /// The rule that refused.
    public var rule: Rule
    /// Whose limit it is.
    public var subject: PolicySubject
    /// What happened, for people.
    public var message: String
    /// When trying again can succeed, for rate and concurrency refusals.
    public var retryAfterSeconds: Int?

    public init(_ rule: Rule, subject: PolicySubject, _ message: String, retryAfterSeconds: Int? = nil) {
        self.rule = rule
        self.subject = subject
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { message }
}
