import Foundation

/// One line of a chart: a name for the legend, a style (`series-a`, `series-b`, ... in the console's
/// style sheet) and one value per window, `nil` where the window had nothing to measure.
struct ChartSeries: Sendable {
    var name: String
    var style: String
    var values: [Double?]
}

/// A line chart drawn as SVG on the server: windows along the bottom, values up the side, one
/// polyline per series (broken where a window has no value). Scales to its container's width.
struct LineChart: Sendable {
    var title: String
    var starts: [Date]
    var series: [ChartSeries]
    /// How values are written on the axis.
    var format: @Sendable (Double) -> String
    /// How window starts are written along the bottom.
    var dateFormat: @Sendable (Date) -> String
    /// The top of the scale when no value reaches higher (1 for rates).
    var floorMaximum: Double = 0

    private static let width = 480.0
    private static let height = 200.0
    private static let left = 60.0
    private static let right = 10.0
    private static let top = 10.0
    private static let bottom = 24.0

    /// The chart as an `<svg>` element; every text in it is escaped.
    var svg: String {
        let plotWidth = Self.width - Self.left - Self.right
        let plotHeight = Self.height - Self.top - Self.bottom
        let highest = series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0
        let maximum = Self.niceCeiling(max(highest, floorMaximum, 1e-9))
        let count = max(starts.count, 1)
        func x(_ index: Int) -> Double {
            count == 1 ? Self.left + plotWidth / 2 : Self.left + plotWidth * Double(index) / Double(count - 1)
        }
        func y(_ value: Double) -> Double { Self.top + plotHeight * (1 - min(max(value / maximum, 0), 1)) }

        var out =
            #"<svg class="chart" viewBox="0 0 \#(Int(Self.width)) \#(Int(Self.height))" role="img" aria-label="\#(title.xmlEscaped)">"#
        out += "<title>\(title.xmlEscaped)</title>"
        for step in 0...4 {
            let value = maximum * Double(step) / 4
            let lineY = Self.format(y(value))
            out += #"<line class="grid" x1="\#(Int(Self.left))" x2="\#(Int(Self.width - Self.right))" y1="\#(lineY)" y2="\#(lineY)"/>"#
            out +=
                #"<text class="axis" x="\#(Int(Self.left - 6))" y="\#(lineY)" text-anchor="end" dominant-baseline="middle">\#(format(value).xmlEscaped)</text>"#
        }
        if !starts.isEmpty {
            let labelled = Set([0, starts.count / 2, starts.count - 1])
            for index in labelled.sorted() {
                let anchor = index == 0 ? "start" : index == starts.count - 1 ? "end" : "middle"
                out +=
                    #"<text class="axis" x="\#(Self.format(x(index)))" y="\#(Int(Self.height - 6))" text-anchor="\#(anchor)">\#(dateFormat(starts[index]).xmlEscaped)</text>"#
            }
        }
        for line in series {
            // Consecutive windows with values make one polyline; a lone one is a dot.
            var run: [(Int, Double)] = []
            func flush() {
                if run.count == 1 {
                    out += #"<circle class="\#(line.style)" cx="\#(Self.format(x(run[0].0)))" cy="\#(Self.format(y(run[0].1)))" r="2.5"/>"#
                } else if run.count > 1 {
                    let points = run.map { "\(Self.format(x($0.0))),\(Self.format(y($0.1)))" }.joined(separator: " ")
                    out += #"<polyline class="\#(line.style)" points="\#(points)"/>"#
                }
                run.removeAll()
            }
            for (index, value) in line.values.enumerated() {
                if let value, value.isFinite { run.append((index, value)) } else { flush() }
            }
            flush()
        }
        return out + "</svg>"
    }

    /// 1, 2 or 5 times a power of ten, at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let power = pow(10, floor(log10(value)))
        for step in [1.0, 2, 5, 10] where step * power >= value * (1 - 1e-12) { return step * power }
        return 10 * power
    }

    static func format(_ coordinate: Double) -> String { String(format: "%.1f", coordinate) }
}

/// A job's network attempts as bars on one time axis, from the job's creation to its last attempt's
/// end: where the time went, which attempt failed, which was a retry or a hedge.
struct AttemptTimeline: Sendable {
    struct Bar: Sendable {
        var label: String
        /// Seconds after the job was created.
        var start: Double
        var end: Double
        var succeeded: Bool
    }

    var bars: [Bar]

    var svg: String {
        let width = 1100.0
        let labelWidth = 280.0
        let rowHeight = 22.0
        let span = max(bars.map(\.end).max() ?? 0, 0.001)
        let height = rowHeight * Double(bars.count) + 24
        var out = #"<svg class="timeline" viewBox="0 0 \#(Int(width)) \#(Int(height))" role="img" aria-label="attempts over time">"#
        out += "<title>attempts over time</title>"
        for (row, bar) in bars.enumerated() {
            let top = Double(row) * rowHeight
            let x = labelWidth + (width - labelWidth - 8) * max(bar.start, 0) / span
            let barWidth = max((width - labelWidth - 8) * max(bar.end - max(bar.start, 0), 0) / span, 2)
            out += #"<text class="axis" x="4" y="\#(LineChart.format(top + 15))">\#(bar.label.xmlEscaped)</text>"#
            out +=
                #"<rect class="\#(bar.succeeded ? "bar-ok" : "bar-failed")" x="\#(LineChart.format(x))" y="\#(LineChart.format(top + 4))" width="\#(LineChart.format(barWidth))" height="14"><title>\#(bar.label.xmlEscaped): \#(String(format: "%.3f", bar.start)) s to \#(String(format: "%.3f", bar.end)) s</title></rect>"#
        }
        let axisY = LineChart.format(height - 6)
        out += #"<text class="axis" x="\#(Int(labelWidth))" y="\#(axisY)">0 s</text>"#
        out += #"<text class="axis" x="\#(Int(width - 8))" y="\#(axisY)" text-anchor="end">\#(String(format: "%.2f", span)) s</text>"#
        return out + "</svg>"
    }
}

extension String {
    /// The text with `&`, `<`, `>`, `"` and `'` written as entities: safe in XML and HTML text and
    /// attribute values.
    var xmlEscaped: String {
        var escaped = ""
        escaped.reserveCapacity(utf8.count)
        for character in unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}
