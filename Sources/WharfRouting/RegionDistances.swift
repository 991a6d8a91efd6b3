/// How far apart the operator's regions are (`routing.region_distances`): the order in which a
/// client's step looks beyond its own region. Symmetric; a pair not listed has no known distance.
public struct RegionDistances: Sendable, Hashable {
    private var distances: [Pair: Int] = [:]

    private struct Pair: Hashable {
        var first: String
        var second: String

        init(_ one: String, _ other: String) {
            (first, second) = one < other ? (one, other) : (other, one)
        }
    }

    public init() {}

    /// Reads entries written `<region>/<region>=<distance>` (`eu-west/us-east=80`).
    /// - Throws: ``InvalidEntry`` naming the first entry that cannot be read.
    public init(parsing entries: [String]) throws(InvalidEntry) {
        for entry in entries {
            let sides = entry.split(separator: "=", omittingEmptySubsequences: false)
            let regions = sides.first?.split(separator: "/", omittingEmptySubsequences: false) ?? []
            guard sides.count == 2, regions.count == 2, let distance = Int(sides[1].trimmingWhitespace()), distance >= 0,
                !regions[0].trimmingWhitespace().isEmpty, !regions[1].trimmingWhitespace().isEmpty
            else { throw InvalidEntry(entry: entry) }
            set(String(regions[0].trimmingWhitespace()), String(regions[1].trimmingWhitespace()), distance)
        }
    }

    /// An entry of the table that cannot be read.
    public struct InvalidEntry: Error {
        public var entry: String
    }

    /// Sets the distance between two regions, both ways.
    public mutating func set(_ one: String, _ other: String, _ distance: Int) {
        distances[Pair(one, other)] = distance
    }

    /// The distance between two regions: 0 for the same, `nil` when not known.
    public func distance(_ one: String, _ other: String) -> Int? {
        one == other ? 0 : distances[Pair(one, other)]
    }

    public var isEmpty: Bool { distances.isEmpty }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<Swift.max(start, end)]
    }
}
