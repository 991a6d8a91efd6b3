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

    /// Up to ``sparseLimit`` buckets in use (a minute's facts, a stored row) are kept as (index,
    /// count) pairs in index order; more (a query adding up rows) as one count per bucket.
    private enum Storage: Sendable {
        case sparse([Entry])
        case dense([UInt64])
    }

    private struct Entry: Sendable {
        var bucket: UInt16
        var count: UInt64
    }

    private static var sparseLimit: Int { 256 }
    private var storage = Storage.sparse([])
    /// How many latencies it holds.
    public private(set) var count: UInt64 = 0

    public init() {}

    /// Reads an encoding made by ``encoded()``. Bytes it cannot read (damaged, another format) give
    /// what could be read before them: analytics show less rather than fail.
    public init(decoding data: Data) {
        var entries: [Entry] = []
        var ordered = true
        var total: UInt64 = 0
        Self.readEntries(of: data) { index, count in
            if let last = entries.last, Int(last.bucket) >= index { ordered = false }
            entries.append(Entry(bucket: UInt16(index), count: count))
            total &+= count
        }
        count = total
        // A row read back stays the short list it was written as, however many buckets it uses:
        // one count per bucket (16 KiB) only once sums of several grow past the sparse limit.
        storage = ordered ? .sparse(entries) : .dense(Self.dense(entries))
    }

    /// Calls `body` with each (bucket, count) of an encoding made by ``encoded()``, in the order
    /// written. A well-formed encoding lists each bucket once, in order; damaged bytes are read as far
    /// as they make sense (an index past the last bucket ends it, a zero count is passed over), and
    /// no further than one entry per bucket.
    private static func readEntries(of data: Data, _ body: (_ bucket: Int, _ count: UInt64) -> Void) {
        guard data.first == formatVersion else { return }
        data.withUnsafeBytes { bytes in
            var reader = VarintReader(bytes: bytes, offset: 1)
            var read = 0
            while read < buckets.count, let index = reader.next(), let count = reader.next() {
                guard index < UInt64(buckets.count) else { return }
                read += 1
                if count > 0 { body(Int(index), count) }
            }
        }
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
            storage = .sparse([])  // drops the reference, so the array is changed in place
            counts[bucket] &+= count
            storage = .dense(counts)
        case .sparse(var entries):
            storage = .sparse([])
            var (low, high) = (0, entries.count)
            while low < high {
                let middle = (low + high) / 2
                if Int(entries[middle].bucket) < bucket { low = middle + 1 } else { high = middle }
            }
            if low < entries.count && Int(entries[low].bucket) == bucket {
                entries[low].count &+= count
            } else {
                entries.insert(Entry(bucket: UInt16(bucket), count: count), at: low)
            }
            storage = entries.count > Self.sparseLimit ? .dense(Self.dense(entries)) : .sparse(entries)
        }
    }

    /// The counts as one per bucket, taken out of the storage (which is left empty), so the caller
    /// changes them in place.
    private mutating func takeDense() -> [UInt64] {
        let taken = storage
        storage = .sparse([])
        switch taken {
        case .dense(let counts): return counts
        case .sparse(let entries): return Self.dense(entries)
        }
    }

    private static func dense(_ entries: [Entry]) -> [UInt64] {
        var counts = [UInt64](repeating: 0, count: buckets.count)
        for entry in entries { counts[Int(entry.bucket)] &+= entry.count }
        return counts
    }

    /// Adds the latencies of an encoding made by ``encoded()``, read straight into this histogram
    /// once it holds one count per bucket (what sums of many rows come to), without making a
    /// histogram of the encoding first. Damaged bytes are read as far as they make sense, as by
    /// ``init(decoding:)``.
    public mutating func add(encoded data: Data) {
        guard data.first == Self.formatVersion else { return }
        guard case .dense = storage else {
            add(LatencyHistogram(decoding: data))
            return
        }
        var counts = takeDense()
        var added: UInt64 = 0
        Self.readEntries(of: data) { index, count in
            counts[index] &+= count
            added &+= count
        }
        storage = .dense(counts)
        count &+= added
    }

    /// Adds every latency of `other`.
    public mutating func add(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        if case .sparse(let mine) = storage, case .sparse(let more) = other.storage {
            // Two lists in bucket order, merged in one pass.
            var merged: [Entry] = []
            merged.reserveCapacity(mine.count + more.count)
            var (left, right) = (0, 0)
            while left < mine.count || right < more.count {
                if right == more.count || (left < mine.count && mine[left].bucket < more[right].bucket) {
                    merged.append(mine[left])
                    left += 1
                } else if left == mine.count || more[right].bucket < mine[left].bucket {
                    merged.append(more[right])
                    right += 1
                } else {
                    merged.append(Entry(bucket: mine[left].bucket, count: mine[left].count &+ more[right].count))
                    left += 1
                    right += 1
                }
            }
            storage = merged.count > Self.sparseLimit ? .dense(Self.dense(merged)) : .sparse(merged)
            count &+= other.count
            return
        }
        switch other.storage {
        case .sparse(let more):
            var counts = takeDense()
            for entry in more { counts[Int(entry.bucket)] &+= entry.count }
            storage = .dense(counts)
        case .dense(let more):
            var counts = takeDense()
            for index in counts.indices { counts[index] &+= more[index] }
            storage = .dense(counts)
        }
        count &+= other.count
    }

    /// The buckets in use and their counts, in order.
    private var entries: [(bucket: Int, count: UInt64)] {
        switch storage {
        case .sparse(let entries): entries.map { (Int($0.bucket), $0.count) }
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
        switch storage {
        case .dense(let counts):
            for index in counts.indices where counts[index] > 0 {
                seen &+= counts[index]
                if seen >= wanted { return Int64(Self.buckets[index]) }
            }
        case .sparse(let entries):
            for entry in entries {
                seen &+= entry.count
                if seen >= wanted { return Int64(Self.buckets[Int(entry.bucket)]) }
            }
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
    let bytes: UnsafeRawBufferPointer
    var offset: Int

    mutating func next() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            guard shift < 64 else { return nil }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
