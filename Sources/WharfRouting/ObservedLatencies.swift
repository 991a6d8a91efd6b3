import Synchronization
public import WharfCore

/// The latest answer times of each pipeline and model, kept to find the delay after which a step is
/// hedged (``RoutingPolicy/Hedging``): their 95th percentile, but at most three times their median.
/// The cap matters when more than one answer in twenty is slow (a tail on the orchestrator that gets
/// most of the traffic): the 95th percentile is then in the tail itself, and a hedge sent that late
/// saves nothing.
public final class ObservedLatencies: Sendable {
    private struct Samples {
        /// The newest answers, as a ring of ``capacity``.
        var ring: [Duration] = []
        var next = 0
        /// The delay as last computed, and answers added since.
        var percentile: Duration?
        var sinceComputed = 0
    }

    private struct Key: Hashable {
        var pipeline: Pipeline
        var model: String
    }

    /// Answers kept per pipeline and model.
    static let capacity = 256
    /// Answers added before the percentile is computed again.
    static let recomputeEvery = 8

    private let samples = Mutex([Key: Samples]())

    public init() {}

    /// Records how long a successful attempt of `pipeline` with `model` took.
    public func record(_ pipeline: Pipeline, model: String, latency: Duration) {
        samples.withLock { all in
            var entry = all[Key(pipeline: pipeline, model: model)] ?? Samples()
            if entry.ring.count < Self.capacity {
                entry.ring.append(latency)
            } else {
                entry.ring[entry.next] = latency
            }
            entry.next = (entry.next + 1) % Self.capacity
            entry.sinceComputed += 1
            if entry.percentile == nil || entry.sinceComputed >= Self.recomputeEvery {
                entry.percentile = Self.hedgeDelay(entry.ring)
                entry.sinceComputed = 0
            }
            all[Key(pipeline: pipeline, model: model)] = entry
        }
    }

    /// The hedge delay the kept answers give (their 95th percentile, at most three medians), once
    /// at least `minimumSamples` were seen.
    public func hedgeDelay(_ pipeline: Pipeline, model: String, minimumSamples: Int) -> Duration? {
        samples.withLock { all in
            guard let entry = all[Key(pipeline: pipeline, model: model)], entry.ring.count >= max(1, minimumSamples) else { return nil }
            return entry.percentile
        }
    }

    private static func hedgeDelay(_ values: [Duration]) -> Duration? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let percentile = sorted[min(sorted.count - 1, (sorted.count * 95 + 99) / 100 - 1)]
        return min(percentile, sorted[sorted.count / 2] * 3)
    }
}
