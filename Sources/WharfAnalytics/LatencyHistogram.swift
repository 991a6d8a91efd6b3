public import Foundation
import Histogram

/// Latencies in milliseconds in HdrHistogram's buckets (1 ms to one hour, two significant digits: a
/// percentile read back is within 1% of the true value). Merging adds counts bucket by bucket; the
/// stored form lists only the buckets in use, so a minute row with a few distinct latencies takes a
/// few bytes.
public struct LatencyHistogram: Sendable, Hashable {
    /// The largest latency kept apart; longer ones count as this.
    public static let highestMilliseconds: UInt64 = 3_600_000
    private static let formatVersion: UInt8 = 2
    /// Each bucket's highest value, in order: HdrHistogram's buckets (1 ms to an hour, two
    /// significant digits), found once through its bucket arithmetic. A bucket is stored by its index.
    private static let buckets: [UInt64] = {
        let template = Histogram<UInt64>(
            lowestDiscernibleValue: 1,
            highestTrackableValue: highestMilliseconds,
            numberOfSignificantValueDigits: .two
        )
        var highest: [UInt64] = []
        var value: UInt64 = 0
        while value <= highestMilliseconds {
            let top = template.highestEquivalentForValue(value)
            highest.append(top)
            value = top + 1
        }
        return highest
    }()

    /// Few buckets in use (what a minute's facts have) are kept by index; many (a query adding up
    /// rows) as one count per bucket.
    private enum Storage: Sendable {
        case sparse([UInt16: UInt64])
        case dense([UInt64])
    }

    private var storage = Storage.sparse([:])
    /// How many latencies it holds.
    public private(set) var count: UInt64 = 0

    public init() {}

    /// Reads an encoding made by ``encoded()``. Bytes it cannot read (damaged, another format) give
    /// what could be read before them: analytics show less rather than fail.
    public init(decoding data: Data) {
        guard data.first == Self.formatVersion else { return }
        var counts = [UInt64](repeating: 0, count: Self.buckets.count)
        var reader = VarintReader(data: data, offset: data.startIndex + 1)
        while let index = reader.next(), let count = reader.next() {
            guard index < UInt64(counts.count) else { break }
            counts[Int(index)] &+= count
            self.count &+= count
        }
        storage = .dense(counts)
    }

    /// The index of the bucket holding `milliseconds` (clamped to an hour).
    private static func bucket(of milliseconds: UInt64) -> Int {
        let value = min(milliseconds, highestMilliseconds)
        var (low, high) = (0, buckets.count - 1)
        while low < high {
            let middle = (low + high) / 2
            if buckets[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Adds latencies (negative ones count as 0, those past an hour as an hour).
    public mutating func record(milliseconds: Int64, count: UInt64 = 1) {
        add(bucket: Self.bucket(of: UInt64(max(0, milliseconds))), count: count)
    }

    private mutating func add(bucket: Int, count: UInt64) {
        guard count > 0 else { return }
        self.count &+= count
        switch storage {
        case .dense(var counts):
            storage = .sparse([:])  // drops the reference, so the array is changed in place
            counts[bucket] &+= count
            storage = .dense(counts)
        case .sparse(var counts):
            storage = .sparse([:])
            counts[UInt16(bucket), default: 0] &+= count
            if counts.count > 64 {
                var dense = [UInt64](repeating: 0, count: Self.buckets.count)
                for (index, count) in counts { dense[Int(index)] = count }
                storage = .dense(dense)
            } else {
                storage = .sparse(counts)
            }
        }
    }

    /// Adds every latency of `other`.
    public mutating func add(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        if case .dense(let more) = other.storage {
            var counts: [UInt64]
            switch storage {
            case .dense(let mine): counts = mine
            case .sparse(let mine):
                counts = [UInt64](repeating: 0, count: Self.buckets.count)
                for (index, count) in mine { counts[Int(index)] = count }
            }
            storage = .sparse([:])  // drops the reference, so the array is changed in place
            for index in counts.indices { counts[index] &+= more[index] }
            storage = .dense(counts)
            count &+= other.count
            return
        }
        for (bucket, count) in other.entries { add(bucket: bucket, count: count) }
    }

    /// The buckets in use and their counts, in order.
    private var entries: [(bucket: Int, count: UInt64)] {
        switch storage {
        case .sparse(let counts): counts.keys.sorted().map { (Int($0), counts[$0] ?? 0) }
        case .dense(let counts): counts.indices.filter { counts[$0] > 0 }.map { ($0, counts[$0]) }
        }
    }

    /// The latency at or below which `percentile` percent of them are (0 to 100), as the highest
    /// value of its bucket; `nil` when empty.
    public func value(atPercentile percentile: Double) -> Int64? {
        guard count > 0 else { return nil }
        // The rank wanted, at most `count` (a product near 2⁶⁴ would not convert).
        let rank = (min(max(percentile.isNaN ? 100 : percentile, 0), 100) / 100 * Double(count)).rounded(.up)
        let wanted = rank >= Double(count) ? count : max(1, UInt64(rank))
        var seen: UInt64 = 0
        if case .dense(let counts) = storage {
            for index in counts.indices where counts[index] > 0 {
                seen &+= counts[index]
                if seen >= wanted { return Int64(Self.buckets[index]) }
            }
        }
        for (bucket, count) in entries {
            seen &+= count
            if seen >= wanted { return Int64(Self.buckets[bucket]) }
        }
        return entries.last.map { Int64(Self.buckets[$0.bucket]) }
    }

    /// The compact form: a version byte, then each bucket in use, in order, as two unsigned LEB128
    /// numbers (its index, its count).
    public func encoded() -> Data {
        let entries = entries
        var data = Data([Self.formatVersion])
        data.reserveCapacity(1 + entries.count * 4)
        for (bucket, count) in entries {
            Self.appendVarint(UInt64(bucket), to: &data)
            Self.appendVarint(count, to: &data)
        }
        return data
    }

    public static func == (left: LatencyHistogram, right: LatencyHistogram) -> Bool {
        left.count == right.count && left.encoded() == right.encoded()
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(encoded())
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
