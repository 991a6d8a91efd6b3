import Foundation
import OpenAPIRuntime
import WharfPolicy

/// RFC 3339 dates with or without fractional seconds on the way in (`2026-11-30T09:15:02Z`,
/// `2026-11-30T09:15:02.061Z`); UTC with milliseconds on the way out, so that audit entries keep
/// their order within a second.
struct AdminDates: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        AuditLog.timestamp(date)
    }

    func decode(_ text: String) throws -> Date {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "'\(text.prefix(40))' is not an RFC 3339 date-time"))
    }
}
