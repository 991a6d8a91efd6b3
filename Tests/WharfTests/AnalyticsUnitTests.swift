import Foundation
import Testing
import WharfAnalytics
import WharfCore

/// The roll-up pieces on their own: the latency histogram, the recorder's rows, the reports' reading
/// of them, and the store's merge on every engine.
@Suite(.layer(.unit)) struct AnalyticsUnitTests {
    @Test
    func latencyHistogramsKeepPercentilesWithinOnePercentAndSurviveDamagedBytes() throws {
        var histogram = LatencyHistogram()
        var values: [Int] = []
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let value = Int.random(in: 1...120_000, using: &generator)
            values.append(value)
            histogram.record(milliseconds: Int64(value))
        }
        for percentile in [50.0, 90.0, 99.0] {
            let exact = RawRecords.percentile(percentile, of: values)
            let shown = Int(try #require(histogram.value(atPercentile: percentile)))
            #expect(abs(shown - exact) <= max(1, exact / 100), "p\(percentile): \(shown) for \(exact)")
        }
        // Encoded and read back, and merged, it is the same histogram.
        let decoded = LatencyHistogram(decoding: histogram.encoded())
        #expect(decoded == histogram)
        var halves = (LatencyHistogram(), LatencyHistogram())
        for (index, value) in values.enumerated() {
            if index % 2 == 0 { halves.0.record(milliseconds: Int64(value)) } else { halves.1.record(milliseconds: Int64(value)) }
        }
        #expect(LatencyHistogram(decoding: LatencyHistogram.merge(halves.0.encoded(), halves.1.encoded())) == histogram)
        // Few buckets (kept as a list) and many (one count per bucket) add up the same either way.
        var few = LatencyHistogram()
        var many = LatencyHistogram()
        var all = LatencyHistogram()
        for value in [3, 3, 70, 900, 12_000] {
            few.record(milliseconds: Int64(value))
            all.record(milliseconds: Int64(value))
        }
        for value in 1...600 {
            many.record(milliseconds: Int64(value * 7))
            all.record(milliseconds: Int64(value * 7))
        }
        var fewThenMany = few
        fewThenMany.add(many)
        var manyThenFew = many
        manyThenFew.add(few)
        #expect(fewThenMany == all && manyThenFew == all)
        #expect(LatencyHistogram(decoding: few.encoded()) == few && LatencyHistogram(decoding: many.encoded()) == many)
        // An encoding out of order (not what the gateway writes) still counts every entry.
        let shuffled = LatencyHistogram(decoding: Data([2, 5, 1, 2, 1, 5, 2]))
        #expect(shuffled.count == 4 && shuffled.value(atPercentile: 25) == 2 && shuffled.value(atPercentile: 100) == 5)
        // Out-of-range values are clamped, never trap.
        var extremes = LatencyHistogram()
        extremes.record(milliseconds: -5)
        extremes.record(milliseconds: .max)
        #expect(extremes.count == 2)
        #expect(try #require(extremes.value(atPercentile: 100)) >= Int64(LatencyHistogram.highestMilliseconds))
        // Damaged or foreign bytes read as what could be read.
        for _ in 0..<2_000 {
            let bytes = Data((0..<Int.random(in: 0...40)).map { _ in UInt8.random(in: 0...255) })
            _ = LatencyHistogram(decoding: bytes).value(atPercentile: 99)
        }
        #expect(LatencyHistogram(decoding: Data([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).count == 0)

        // Adding an encoding as it is read gives what adding its histogram gives, whether the sum so
        // far is a short list or one count per bucket; damaged bytes add what could be read.
        for (start, more) in [(few, many), (many, few), (all, many), (LatencyHistogram(), all)] {
            var byHistogram = start
            byHistogram.add(LatencyHistogram(decoding: more.encoded()))
            var byEncoding = start
            byEncoding.add(encoded: more.encoded())
            #expect(byEncoding == byHistogram && byEncoding.count == start.count + more.count)
        }
        for _ in 0..<2_000 {
            let bytes = Data([2] + (0..<Int.random(in: 0...40)).map { _ in UInt8.random(in: 0...255) })
            var dense = all
            dense.add(encoded: bytes)
            #expect(dense.count >= all.count, "damaged bytes never trap nor take counts away")
        }
    }

    @Test
    func theRecorderRollsFactsUpPerDimensionPairAndResolution() throws {
        let recorder = AnalyticsRecorder()
        let at = try #require(ISO8601DateFormatter().date(from: "2026-11-30T10:15:30Z"))
        let dimensions: [AnalyticsDimension: String] = [.pipeline: "llm", .model: "m", .orchestrator: "o:1", .outcome: "ok", .tenant: "t"]
        for latency in [10, 20, 30] {
            recorder.record(
                AnalyticsEvent(
                    fact: .attempts,
                    at: at,
                    dimensions: dimensions,
                    succeeded: latency != 30,
                    latencyMilliseconds: Int64(latency),
                    costWei: 5
                )
            )
        }
        let rows = recorder.drain()
        #expect(recorder.drain().isEmpty)
        // Per resolution: the total, five dimensions, and from the hour up the pairs the facts have
        // (pipeline → model, pipeline → orchestrator, model → orchestrator, orchestrator → pipeline,
        // tenant → pipeline, outcome → orchestrator).
        for resolution in AnalyticsResolution.allCases {
            let mine = rows.filter { $0.key.resolution == resolution }
            #expect(mine.count == 1 + 5 + (resolution == .minute ? 0 : 6), "\(resolution): \(mine.map(\.key))")
            let total = try #require(mine.first { $0.key.dimension == nil })
            #expect(total.key.bucket == resolution.bucketStart(of: at))
            #expect((total.count, total.succeeded, total.costWei, total.latencyMaxMilliseconds) == (3, 2, 15, 30))
            #expect(LatencyHistogram(decoding: total.histogram).count == 3)
        }
        let midnight = try #require(ISO8601DateFormatter().date(from: "2026-11-30T00:00:00Z"))
        #expect(AnalyticsResolution.day.bucketStart(of: at) == Int64(midnight.timeIntervalSince1970))
        #expect(AnalyticsResolution.hour.bucketStart(of: at) == Int64(midnight.timeIntervalSince1970) + 10 * 3_600)
        #expect(AnalyticsResolution.minute.bucketStart(ofSecond: -1) == -60)
        // Dates from outside never trap: far ones are clamped.
        for date in [Date.distantFuture, Date.distantPast, Date(timeIntervalSince1970: 1e300), Date(timeIntervalSince1970: -1e300)] {
            #expect(abs(AnalyticsResolution.day.bucketStart(of: date)) <= 1_000_000_000_000_000 + 86_400)
        }
        // Bounded: past the limit, new rows are not started and the facts are counted as dropped.
        let small = AnalyticsRecorder(maximumPendingRows: 3)
        for index in 0..<10 {
            small.record(
                AnalyticsEvent(fact: .requests, at: at, dimensions: [.tenant: "t\(index)"], succeeded: true, latencyMilliseconds: 1)
            )
        }
        #expect(small.dropped > 0)
        #expect(small.drain().filter { $0.key.resolution == .minute }.count == 3)
    }

    @Test(arguments: StoreEngine.allCases)
    func storesMergeRollupsAndAnswerReportsFromThem(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let store = try await engine.open(in: directory)
        let start = try #require(ISO8601DateFormatter().date(from: "2026-11-01T00:00:00Z"))
        // Two nodes' flushes of the same buckets, the second repeating keys: sums add up.
        for (node, orchestrators) in [("a", ["o1", "o2"]), ("b", ["o1"])] {
            let recorder = AnalyticsRecorder()
            for day in 0..<3 {
                for orchestrator in orchestrators {
                    recorder.record(
                        AnalyticsEvent(
                            fact: .attempts,
                            at: start.addingTimeInterval(Double(day) * 86_400 + 90),
                            dimensions: [.orchestrator: orchestrator, .role: node == "a" ? "first" : "retry"],
                            succeeded: orchestrator == "o1",
                            latencyMilliseconds: day == 2 ? 1_000 : 100,
                            costWei: 7
                        )
                    )
                }
            }
            try await store.mergeRollups(recorder.drain(), mergeHistograms: LatencyHistogram.merge)
        }
        let reports = AnalyticsReports(store: store)
        let end = start.addingTimeInterval(3 * 86_400)
        for window in [AnalyticsResolution.hour, .day] {
            let groups = try await reports.series(
                AnalyticsSeriesQuery(fact: .attempts, window: window, from: start, to: end, groupBy: .orchestrator)
            )
            #expect(groups.map(\.value) == ["o1", "o2"], "\(window)")
            #expect(groups.map(\.total.count) == [6, 3])
            #expect(groups[0].total.succeeded == 6 && groups[1].total.succeeded == 0)
            #expect(groups[0].total.costWei == 42)
            #expect(groups[0].points.count == 3)
            #expect(groups[0].total.latency(atPercentile: 50) == 100 && groups[0].total.latency(atPercentile: 99) == 1_000)
        }
        let retries = try await reports.totals(
            of: .attempts,
            by: .orchestrator,
            within: (.role, "retry"),
            from: start,
            to: end,
            window: .day
        )
        #expect(retries.mapValues(\.count) == ["o1": 3])
        let seen = try await reports.seen(.attempts, by: .orchestrator)
        #expect(seen["o2"]?.first == start)
        #expect(seen["o2"]?.last == start.addingTimeInterval(2 * 86_400 + 60))
        // A pair the roll-ups do not keep is refused, as is a range of too many windows.
        await #expect(throws: AnalyticsQueryError.self) {
            _ = try await reports.series(
                AnalyticsSeriesQuery(
                    fact: .attempts,
                    window: .day,
                    from: start,
                    to: end,
                    groupBy: .tenant,
                    filter: .model,
                    filterValue: "x"
                )
            )
        }
        await #expect(throws: AnalyticsQueryError.self) {
            _ = try await reports.series(
                AnalyticsSeriesQuery(fact: .attempts, window: .minute, from: start, to: end.addingTimeInterval(86_400))
            )
        }
        // Retention: minute rows before the second day go; hour and day rows stay.
        let removed = try await store.removeRollups(.minute, before: AnalyticsResolution.day.bucketStart(of: start) + 86_400)
        #expect(removed > 0)
        let secondDay = start.addingTimeInterval(86_400)
        let kept = try await reports.series(
            AnalyticsSeriesQuery(fact: .attempts, window: .minute, from: secondDay, to: secondDay.addingTimeInterval(3_600))
        )
        #expect(kept.first?.total.count == 3 && kept.first?.points.map(\.start) == [secondDay.addingTimeInterval(60)])
        let gone = try await reports.series(
            AnalyticsSeriesQuery(fact: .attempts, window: .minute, from: start, to: start.addingTimeInterval(3_600))
        )
        #expect(gone.isEmpty)
        let days = try await reports.series(AnalyticsSeriesQuery(fact: .attempts, window: .day, from: start, to: end))
        #expect(days.first?.total.count == 9)
    }
}
