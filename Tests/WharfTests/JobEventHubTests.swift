import Testing
import WharfCore
import WharfWorkflow

/// The event hub's promise to listeners: events in order, a late listener gets what it missed, and
/// no listener waits forever.
@Suite(.layer(.unit)) struct JobEventHubTests {
    static func event(_ kind: PresetEvent.Kind, step: String? = "a") -> PresetEvent {
        PresetEvent(jobID: "job_1", stepID: kind == .jobFinished ? nil : step, kind: kind, attempt: 1, detail: "")
    }

    @Test func aJobStoppedHereWithoutEndingEndsItsListeners() async throws {
        let hub = JobEventHub()
        hub.open(jobID: "job_1")
        hub.publish(Self.event(.stepStarted))
        let listener = try #require(hub.events(jobID: "job_1"))
        hub.close(jobID: "job_1")
        var seen: [PresetEvent.Kind] = []
        for await numbered in listener { seen.append(numbered.event.kind) }  // ends: no hang
        #expect(seen == [.stepStarted])
        #expect(hub.events(jobID: "job_1") == nil)  // later readers go to the store
    }

    @Test func aFinishedJobStaysForReplayAfterClose() async throws {
        let hub = JobEventHub()
        hub.open(jobID: "job_1")
        hub.publish(Self.event(.stepStarted))
        hub.publish(Self.event(.jobFinished))
        hub.close(jobID: "job_1")
        let replay = try #require(hub.events(jobID: "job_1", after: 1))
        var seen: [Int] = []
        for await numbered in replay { seen.append(numbered.sequence) }
        #expect(seen == [2])
    }
}
