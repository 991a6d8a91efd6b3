import Synchronization
public import WharfCore

/// Concurrency limits: how many jobs of a key or tenant run at once, and how many may wait for a
/// place. Exact within one gateway node.
///
/// A job takes a place in every lane that limits it (its key's and its tenant's). ``enter(_:)``
/// decides at once: the job runs, waits in line, or is refused because the line is full. Waiting jobs
/// start in the order they came, as soon as every lane they need has room; a job waiting for its
/// key's lane does not hold up other keys' jobs in the tenant's lane.
public final class JobSlots: Sendable {
    /// One limit a job is under (the same value the store counts with several nodes).
    public typealias Lane = SharedSlotLane

    private struct Waiter {
        var ticket: Int
        var lanes: [Lane]
        var continuation: CheckedContinuation<Void, any Error>?
        var granted = false
    }

    private struct State {
        var running: [PolicySubject: Int] = [:]
        var waitingCount: [PolicySubject: Int] = [:]
        /// Waiting tickets, oldest first.
        var line: [Waiter] = []
        var nextTicket = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// A job's place: running, or in line for it. ``release()`` gives it back (once).
    public final class Place: Sendable {
        private let slots: JobSlots
        private let ticket: Int
        private let lanes: [Lane]
        private let released = Atomic<Bool>(false)
        /// Whether the job could start at once.
        public let startedAtOnce: Bool

        fileprivate init(slots: JobSlots, ticket: Int, lanes: [Lane], startedAtOnce: Bool) {
            self.slots = slots
            self.ticket = ticket
            self.lanes = lanes
            self.startedAtOnce = startedAtOnce
        }

        /// Waits until the job may run. - Throws: `CancellationError` when the task is cancelled
        /// first (the place is then given back).
        public func waitForTurn() async throws {
            if startedAtOnce { return }
            try await slots.wait(ticket: ticket)
        }

        /// Gives the place back: a running job's slot, or a waiting job's place in line.
        public func release() {
            guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
            slots.leave(ticket: ticket, lanes: lanes)
        }

        deinit { release() }
    }

    /// Takes a place for a job under `lanes`.
    /// - Throws: ``PolicyRefusal`` (`too-many-jobs`) naming the first lane whose running jobs and
    ///   line are both full.
    public func enter(_ lanes: [Lane]) throws -> Place {
        let outcome: Result<(Int, Bool), PolicyRefusal> = state.withLock { state in
            // Room in every lane: start. Waiting jobs cannot lose their turn to it: a freed slot goes to
            // the line in the same step that frees it, so a lane with room has nobody waiting for it.
            let fits = lanes.allSatisfy { (state.running[$0.subject] ?? 0) < $0.maxRunning }
            let ticket = state.nextTicket
            state.nextTicket += 1
            if fits {
                for lane in lanes { state.running[lane.subject, default: 0] += 1 }
                return .success((ticket, true))
            }
            for lane in lanes where (state.running[lane.subject] ?? 0) >= lane.maxRunning {
                if (state.waitingCount[lane.subject] ?? 0) >= lane.maxWaiting {
                    let running = state.running[lane.subject] ?? 0
                    return .failure(
                        PolicyRefusal(
                            .tooManyJobs,
                            subject: lane.subject,
                            "\(lane.subject.kind) \(lane.subject.identifier) has \(running) jobs running (limit \(lane.maxRunning)) and \(lane.maxWaiting) waiting (limit \(lane.maxWaiting))",
                            retryAfterSeconds: 1
                        )
                    )
                }
            }
            for lane in lanes { state.waitingCount[lane.subject, default: 0] += 1 }
            state.line.append(Waiter(ticket: ticket, lanes: lanes))
            return .success((ticket, false))
        }
        let (ticket, startedAtOnce) = try outcome.get()
        return Place(slots: self, ticket: ticket, lanes: lanes, startedAtOnce: startedAtOnce)
    }

    /// How many jobs run under `subject` now.
    public func running(_ subject: PolicySubject) -> Int {
        state.withLock { $0.running[subject] ?? 0 }
    }

    /// How many jobs wait under `subject` now.
    public func waiting(_ subject: PolicySubject) -> Int {
        state.withLock { $0.waitingCount[subject] ?? 0 }
    }

    private func wait(ticket: Int) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Result<Void, any Error>? = state.withLock { state in
                    guard let index = state.line.firstIndex(where: { $0.ticket == ticket }) else {
                        // Not in line: granted already, or given back (cancelled).
                        return Task.isCancelled ? .failure(CancellationError()) : .success(())
                    }
                    if state.line[index].granted {
                        state.line.remove(at: index)
                        return .success(())
                    }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.line[index].continuation = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, any Error>? = state.withLock { state in
                guard let index = state.line.firstIndex(where: { $0.ticket == ticket && !$0.granted }) else { return nil }
                let waiter = state.line[index]
                guard let continuation = waiter.continuation else { return nil }
                state.line[index].continuation = nil
                return continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    private func leave(ticket: Int, lanes: [Lane]) {
        let resumed: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            if let index = state.line.firstIndex(where: { $0.ticket == ticket }) {
                let waiter = state.line.remove(at: index)
                if waiter.granted {
                    // Granted but never started: give the slot back.
                    for lane in lanes { state.running[lane.subject, default: 1] -= 1 }
                } else {
                    for lane in lanes { state.waitingCount[lane.subject, default: 1] -= 1 }
                }
            } else {
                for lane in lanes { state.running[lane.subject, default: 1] -= 1 }
            }
            for lane in lanes {
                if state.running[lane.subject] == 0 { state.running.removeValue(forKey: lane.subject) }
                if state.waitingCount[lane.subject] == 0 { state.waitingCount.removeValue(forKey: lane.subject) }
            }
            return Self.grant(&state)
        }
        for continuation in resumed { continuation.resume() }
    }

    /// Starts waiting jobs, oldest first, while their lanes have room. A job that cannot start keeps
    /// its lanes' later jobs waiting (first come, first served per lane).
    private static func grant(_ state: inout State) -> [CheckedContinuation<Void, any Error>] {
        var resumed: [CheckedContinuation<Void, any Error>] = []
        var blocked: Set<PolicySubject> = []
        var index = 0
        while index < state.line.count {
            let waiter = state.line[index]
            if waiter.granted {
                index += 1
                continue
            }
            let lanes = waiter.lanes
            let fits = lanes.allSatisfy { (state.running[$0.subject] ?? 0) < $0.maxRunning && !blocked.contains($0.subject) }
            guard fits else {
                // It keeps its turn only in the lanes that are full for it: a job of another key
                // behind it may still take the tenant's free slot.
                for lane in lanes where (state.running[lane.subject] ?? 0) >= lane.maxRunning || blocked.contains(lane.subject) {
                    blocked.insert(lane.subject)
                }
                index += 1
                continue
            }
            for lane in lanes {
                state.running[lane.subject, default: 0] += 1
                state.waitingCount[lane.subject, default: 1] -= 1
                if state.waitingCount[lane.subject] == 0 { state.waitingCount.removeValue(forKey: lane.subject) }
            }
            if let continuation = waiter.continuation {
                state.line.remove(at: index)
                resumed.append(continuation)
            } else {
                // It has not started waiting yet; it finds itself granted when it does.
                state.line[index].granted = true
                index += 1
            }
        }
        return resumed
    }
}
