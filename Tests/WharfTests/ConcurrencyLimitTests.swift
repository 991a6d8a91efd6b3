import Synchronization
import Testing
import WharfCore

/// The gateway's caps on concurrent work: never more than the width, in order, and a waiter that is
/// cancelled leaves the line without taking a place.
@Suite(.layer(.unit)) struct ConcurrencyLimitTests {
    @Test func neverMoreThanItsWidthRunAtOnce() async throws {
        let limit = ConcurrencyLimit(width: 3)
        let running = RunningCount()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    try await limit.run {
                        let now = running.count.withLock {
                            $0 += 1
                            return $0
                        }
                        #expect(now <= 3)
                        try await Task.sleep(for: .milliseconds(2))
                        running.count.withLock { $0 -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(limit.peak == 3)
    }

    @Test func aCancelledWaiterLeavesTheLineAndTakesNoPlace() async throws {
        let limit = ConcurrencyLimit(width: 1)
        try await limit.acquire()
        let waiter = Task { try await limit.run { "ran" } }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        limit.release()
        // The place is free again: the cancelled waiter did not keep it.
        #expect(try await limit.run { "next" } == "next")
        // Cancelled before it asks: refused at once, nothing taken.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await limit.run { "ran" }
        }
        await #expect(throws: CancellationError.self) { try await early.value }
        #expect(try await limit.run { "free" } == "free")
    }
}

/// How many bodies run at the moment, as they count themselves.
private final class RunningCount: Sendable {
    let count = Mutex(0)
}
