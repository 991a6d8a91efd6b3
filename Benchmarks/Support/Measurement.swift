/// Helpers the benchmarks share: durations in microseconds and a Markdown row of percentiles.

/// The value below which `fraction` of the samples fall (nearest rank).
public func percentile(_ samples: [Double], _ fraction: Double) -> Double {
    let sorted = samples.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction))]
}

/// A duration in microseconds.
public func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

/// `| name | median | p95 | runs |`, for the tables in docs/PERFORMANCE.md.
public func row(_ name: String, _ samples: [Double]) -> String {
    let median = (percentile(samples, 0.5) * 10).rounded() / 10
    let p95 = (percentile(samples, 0.95) * 10).rounded() / 10
    return "| \(name) | \(median) | \(p95) | \(samples.count) |"
}
