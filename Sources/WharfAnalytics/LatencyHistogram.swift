public import Foundation
import Histogram

/// Latencies in milliseconds in HdrHistogram's buckets (1 ms to one hour, two significant digits: a
/// percentile read back is within 1% of the true value), kept sparse: only the buckets in use, each
/// by the highest value it holds. Merging adds counts bucket by bucket; the stored form lists the
/// buckets in use, so a minute row with a few distinct latencies takes a few bytes.
public struct LatencyHistogram: Sendable, Hashable {
    /// The largest latency kept apart; longer ones count as this.
    public static let highestMilliseconds: UInt64 = 3_600_000
    private static let formatVersion: UInt8 = 1
    /// HdrHistogram's bucket arithmetic (nothing is recorded in it).
    private static let buckets = Histogram<UInt64>(
        lowestDiscernibleValue: 1,
        highestTrackableValue: highestMilliseconds,
        numberOfSignificantValueDigits: .two
    )

    /// Count per bucket, keyed by the bucket's highest value.
    private var counts: [UInt64: UInt64] = [:]
    /// How many latencies it holds.
    public private(set) var count: UInt64 = 0

    public init() {}

    /// Reads an encoding made by ``encoded()``. Bytes it cannot read (damaged, another format) give
    /// what could be read before them: analytics show less rather than fail.
    public init(decoding data: Data) {
        guard data.first == Self.formatVersion else { return }
        var reader = VarintReader(data: data, offset: data.startIndex + 1)
        while let value = reader.next(), let count = reader.next() {
            add(bucket: Self.bucket(of: value), count: count)
        }
    }

    /// Adds latencies (negative ones count as 0, those past an hour as an hour).
    public mutating func record(milliseconds: Int64, count: UInt64 = 1) {
        add(bucket: Self.bucket(of: UInt64(max(0, milliseconds))), count: count)
    }

    /// Adds every latency of `other`.
    public mutating func add(_ other: LatencyHistogram) {
        for (bucket, count) in other.counts { add(bucket: bucket, count: count) }
    }

    private mutating func add(bucket: UInt64, count: UInt64) {
        guard count > 0 else { return }
        counts[bucket, default: 0] &+= count
        self.count &+= count
    }

    private static func bucket(of milliseconds: UInt64) -> UInt64 {
        buckets.highestEquivalentForValue(min(milliseconds, highestMilliseconds))
    }

    /// The latency at or below which `percentile` percent of them are (0 to 100), as the highest
    /// value of its bucket; `nil` when empty.
    public func value(atPercentile percentile: Double) -> Int64? {
        guard count > 0 else { return nil }
        let wanted = max(1, UInt64((min(max(percentile, 0), 100) / 100 * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for bucket in counts.keys.sorted() {
            seen &+= counts[bucket] ?? 0
            if seen >= wanted { return Int64(bucket) }
        }
        return counts.keys.max().map(Int64.init)
    }

    /// The compact form: a version byte, then each bucket in use, in order, as two unsigned LEB128
    /// numbers (its highest value, its count).
    public func encoded() -> Data {
        var data = Data([Self.formatVersion])
        data.reserveCapacity(1 + counts.count * 5)
        for bucket in counts.keys.sorted() {
            Self.appendVarint(bucket, to: &data)
            Self.appendVarint(counts[bucket] ?? 0, to: &data)
        }
        return data
    }

    /// The encoding of `first` and `second` merged.
    @Sendable public static func merge(_ first: Data, _ second: Data) -> Data {
        var merged = LatencyHistogram(decoding: first)
        merged.add(LatencyHistogram(decoding: second))
        return merged.encoded()
    }

    private static func appendVarint(_ value: UInt64, to data: inout Data) {
        var rest = value
        while rest >= 0x80 {
            data.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        data.append(UInt8(rest))
    }
}

/// Reads unsigned LEB128 numbers; answers `nil` at the end or at a number longer than 64 bits.
private struct VarintReader {
    let data: Data
    var offset: Data.Index

    mutating func next() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < data.endIndex {
            let byte = data[offset]
            offset += 1
            guard shift < 64 else { return nil }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
