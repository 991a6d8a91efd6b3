import Foundation
public import Logging
import Synchronization

/// A `LogHandler` that writes one structured line per event: JSON or logfmt.
///
/// Every line has `ts` (RFC 3339, UTC, milliseconds), `level`, `msg` and `logger`, then the metadata
/// (request-scoped keys such as `hb.request.id` included). Lines are written whole with one `write(2)`
/// under a lock, so concurrent tasks never interleave.
public struct StructuredLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: WharfConfiguration.LogFormat
    private let sink: LineSink

    /// - Parameters:
    ///   - label: The logger's label, written as `logger`.
    ///   - format: JSON or logfmt.
    ///   - level: Least severe level written.
    ///   - sink: Where lines go; standard error by default.
    public init(
        label: String,
        format: WharfConfiguration.LogFormat,
        level: Logger.Level,
        sink: LineSink = .standardError
    ) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged["error"] = .string("\(error)") }
        let fields: [(String, String)] =
            [
                ("ts", Self.timestamp()),
                ("level", event.level.rawValue),
                ("msg", event.message.description),
                ("logger", label),
            ] + merged.sorted { $0.key < $1.key }.map { ($0.key, Self.flatten($0.value)) }
        let line =
            switch format {
            case .json: Self.json(fields)
            case .logfmt: Self.logfmt(fields)
            }
        sink.write(line + "\n")
    }

    static func json(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}"
    }

    static func logfmt(_ fields: [(String, String)]) -> String {
        fields.map { key, value in
            let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.isNewline }
            return needsQuotes ? "\(key)=\(jsonString(value))" : "\(key)=\(value)"
        }.joined(separator: " ")
    }

    /// A JSON string literal, escaped as RFC 8259 requires.
    static func jsonString(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    private static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(flatten).joined(separator: ",") + "]"
        case .dictionary(let values):
            "{" + values.sorted { $0.key < $1.key }.map { "\($0.key)=\(flatten($0.value))" }.joined(separator: ",") + "}"
        }
    }

    private static func timestamp() -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
    }
}

/// Where ``StructuredLogHandler`` writes its lines.
public struct LineSink: Sendable {
    private let writeLine: @Sendable (String) -> Void

    /// A sink calling `writeLine` for every complete line (newline included).
    public init(_ writeLine: @escaping @Sendable (String) -> Void) {
        self.writeLine = writeLine
    }

    func write(_ line: String) { writeLine(line) }

    private static let lock = Mutex(())

    /// The process's standard error, one write per line.
    public static let standardError = LineSink { line in
        lock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }
}
