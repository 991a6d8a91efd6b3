import Foundation
import Testing

@testable import WharfWorkflow

/// The relay's view of an orchestrator's event stream: whole events only, any line ending, bounded.
@Suite(.layer(.unit)) struct EventStreamScannerTests {
    static func scan(_ chunks: [[UInt8]]) -> String? {
        var scanner = EventStreamScanner()
        for chunk in chunks { scanner.feed(Data(chunk)) }
        return scanner.lastDataEvent.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func theLastJSONDataEventIsKeptAndDoneIsNot() {
        let stream = "data: {\"n\":1}\n\ndata: {\"n\":2,\"usage\":{}}\n\ndata: [DONE]\n\n"
        #expect(Self.scan([Array(stream.utf8)]) == "{\"n\":2,\"usage\":{}}")
    }

    @Test(arguments: ["\n", "\r\n", "\r"])
    func everyLineEndingEndsAnEvent(ending: String) {
        let stream = "event: message\(ending)data: {\"n\":1}\(ending)\(ending)data: {\"n\":2}\(ending)\(ending)"
        #expect(Self.scan([Array(stream.utf8)]) == "{\"n\":2}")
    }

    @Test func anEventSplitAnywhereIsReadOnceWhole() {
        // "é" is two bytes; every split point, including between them, reads the same.
        let bytes = Array("data: {\"text\":\"café\"}\r\n\r\ndata: {\"text\":\"thé\"}\r\n\r\n".utf8)
        for cut in 1..<bytes.count {
            #expect(Self.scan([Array(bytes[..<cut]), Array(bytes[cut...])]) == "{\"text\":\"thé\"}", "cut at \(cut)")
        }
        // An unfinished event is not kept.
        #expect(Self.scan([Array("data: {\"n\":1}\n\ndata: {\"n\":2}\n".utf8)]) == "{\"n\":1}")
    }

    @Test func anEventLongerThanTheBoundIsSkippedAndTheNextOneRead() {
        let huge = "data: {\"x\":\"" + String(repeating: "a", count: EventStreamScanner.maximumEventBytes + 10) + "\"}\n\n"
        let stream = "data: {\"n\":1}\n\n" + huge + "data: {\"n\":3}\n\n"
        #expect(
            Self.scan(
                stride(from: 0, to: stream.utf8.count, by: 4096).map { Array(Array(stream.utf8)[$0..<min($0 + 4096, stream.utf8.count)]) }
            ) == "{\"n\":3}"
        )
        #expect(Self.scan([Array(("data: {\"n\":1}\n\n" + huge).utf8)]) == "{\"n\":1}")
    }
}
