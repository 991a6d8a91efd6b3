import Foundation
import WharfCore

/// Watches a `text/event-stream` as it is relayed, byte by byte, and keeps its last `data:` event that
/// is a JSON document (the final LLM chunk, with the usage): what the job records as its result.
///
/// Events end at a blank line, written `\n\n`, `\r\n\r\n` or `\r\r`; an event split across chunks, or
/// a multi-byte character split across them, is read once whole. What it holds is bounded: an event
/// longer than ``maximumEventBytes`` is never kept, and sets ``overlong`` (the relay then ends the
/// stream: no LLM event is that long, and one that never ends would be relayed forever).
struct EventStreamScanner {
    /// The longest event kept whole; a longer one is passed over.
    static let maximumEventBytes = 1 << 20

    /// The last JSON `data:` payload of a complete event, if any so far.
    private(set) var lastDataEvent: Data?
    /// The bytes of the event being received.
    private var pending: [UInt8] = []
    /// Inside an event too long to keep: skip to its end.
    private var skipping = false
    /// Whether an event longer than ``maximumEventBytes`` has been seen.
    private(set) var overlong = false

    /// An event longer than ``maximumEventBytes``.
    struct OverlongEvent: Error, CustomStringConvertible {
        var description: String { "the orchestrator sent an event longer than \(EventStreamScanner.maximumEventBytes) bytes" }
    }

    mutating func feed(_ chunk: Data) {
        for byte in chunk {
            pending.append(byte)
            if let end = Self.eventEnd(in: pending) {
                if !skipping { consume(pending[..<end]) }
                skipping = false
                pending.removeAll(keepingCapacity: true)
            } else if pending.count > Self.maximumEventBytes {
                // Keep the last three bytes: the event's end may start among them.
                skipping = true
                overlong = true
                pending.removeFirst(pending.count - 3)
            }
        }
    }

    /// Where the event in `bytes` ends, when `bytes` ends with a blank line.
    private static func eventEnd(in bytes: [UInt8]) -> Int? {
        let count = bytes.count
        guard count >= 2, bytes[count - 1] == 0x0A || bytes[count - 1] == 0x0D else { return nil }
        if bytes[count - 1] == 0x0A, bytes[count - 2] == 0x0A { return count }
        if count >= 3, bytes[(count - 3)...] == [0x0A, 0x0D, 0x0A] { return count }
        if bytes[count - 1] == 0x0D, bytes[count - 2] == 0x0D { return count }
        if count >= 4, bytes[(count - 4)...] == [0x0D, 0x0A, 0x0D, 0x0A] { return count }
        return nil
    }

    /// Reads one whole event: its `data:` lines joined, kept when they are a JSON object.
    private mutating func consume(_ event: ArraySlice<UInt8>) {
        let text = String(decoding: event, as: UTF8.self)
        let lines = text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        let data = lines.filter { $0.hasPrefix("data:") }.map { line -> Substring in
            let value = line.dropFirst(5)
            return value.first == " " ? value.dropFirst() : value
        }
        guard !data.isEmpty else { return }
        let payload = data.joined(separator: "\n")
        if payload.trimmingWhitespace().hasPrefix("{") { lastDataEvent = Data(payload.trimmingWhitespace().utf8) }
    }
}
