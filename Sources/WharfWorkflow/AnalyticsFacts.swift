import Foundation
public import WharfCore

extension Job {
    /// The dimensions a job's facts carry: its tenant and key, its API, and its preset (v2) or
    /// pipeline (a v1 call).
    public var analyticsDimensions: [AnalyticsDimension: String] {
        var dimensions: [AnalyticsDimension: String] = [.tenant: tenantID]
        if let apiKeyPrefix { dimensions[.key] = apiKeyPrefix }
        if kind.hasPrefix("preset:") {
            dimensions[.api] = "v2"
            dimensions[.preset] = String(kind.dropFirst("preset:".count))
        } else {
            dimensions[.api] = "v1"
            dimensions[.pipeline] = kind
        }
        return dimensions
    }
}

extension AnalyticsSink {
    /// Records the network attempts of one step of `job`.
    func recordAttempts(_ attempts: [NetworkAttempt], of job: Job, pipeline: Pipeline, model: String?) {
        var common = job.analyticsDimensions
        common[.pipeline] = pipeline.rawValue
        if let model { common[.model] = model }
        for attempt in attempts {
            var dimensions = common
            dimensions[.orchestrator] = attempt.orchestrator
            dimensions[.outcome] = attempt.outcome
            dimensions[.role] = attempt.role
            if let decision = attempt.decision, let region = decision.top.first(where: { $0.orchestrator == decision.chosen })?.region {
                dimensions[.region] = region
            }
            record(
                AnalyticsEvent(
                    fact: .attempts,
                    at: attempt.endedAt,
                    dimensions: dimensions,
                    succeeded: attempt.succeeded,
                    latencyMilliseconds: Int64(attempt.latencyMilliseconds),
                    costWei: attempt.costWei ?? 0
                )
            )
        }
    }

    /// Records a job's end: its final status and how long it ran.
    public func recordEnd(of job: Job, model: String? = nil) {
        var dimensions = job.analyticsDimensions
        dimensions[.outcome] = job.status.rawValue
        if let model { dimensions[.model] = model }
        let runMilliseconds = job.updatedAt.timeIntervalSince(job.createdAt) * 1000
        record(
            AnalyticsEvent(
                fact: .jobs,
                at: job.updatedAt,
                dimensions: dimensions,
                succeeded: job.status == .succeeded,
                latencyMilliseconds: Int64(exactly: runMilliseconds.rounded()) ?? 0
            )
        )
    }

    /// Records what a step of `job` was charged: money counted under the step's pipeline and
    /// model when charged, adding no job to the count.
    func recordCharge(of job: Job, pipeline: Pipeline, model: String?, costWei: Int64, revenue: Int64) {
        var dimensions = job.analyticsDimensions
        dimensions[.pipeline] = pipeline.rawValue
        if let model { dimensions[.model] = model }
        record(
            AnalyticsEvent(
                fact: .jobs,
                at: Date(),
                dimensions: dimensions,
                count: 0,
                succeeded: false,
                latencyMilliseconds: nil,
                costWei: costWei,
                revenue: revenue
            )
        )
    }
}

extension Job {
    /// The job as it is once it ended as `status` now (for analytics, when the store's copy is not
    /// at hand).
    func ended(as status: JobStatus, at date: Date = Date()) -> Job {
        var ended = self
        ended.status = status
        ended.updatedAt = date
        return ended
    }
}
