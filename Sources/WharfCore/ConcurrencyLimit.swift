import Synchronization

/// Lets at most `width` tasks through at once; the others wait their turn in order. A task
/// cancelled while it waits leaves the line and throws `CancellationError`.
///
/// The gateway's global caps on concurrent work (ffmpeg processes, code steps, network steps) are
/// one each, so no tenant's jobs can start more of them than the machine can carry.
public final class ConcurrencyLimit: Sendable {
    private struct State {
        var running = 0
        var nextTicket = 0
        var waiting: [(ticket: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        var peak = 0
    }

    /// How many may run at once.
    public let width: Int
    private let state = Mutex(State())

    public init(width: Int) {
        self.width = max(1, width)
    }

    /// The most that ran at once so far.
    public var peak: Int { state.withLock { $0.peak } }

    /// Runs `body` when a place is free. - Throws: `CancellationError` when cancelled while waiting,
    /// or what `body` throws.
    public func run<T>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }

    private enum Outcome {
        case admitted, waiting, cancelled
    }

    /// Waits for a place; pair it with ``release()`` (a `defer` right after it).
    /// - Throws: `CancellationError` when cancelled while waiting (no place is taken).
    public func acquire() async throws {
        let ticket = state.withLock { state in
            state.nextTicket += 1
            return state.nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Decided in one piece: a cancellation after the task joins the line is the
                // handler's to answer, one before it is seen here.
                let outcome = state.withLock { state -> Outcome in
                    if Task.isCancelled { return .cancelled }
                    if state.running < width && state.waiting.isEmpty {
                        state.running += 1
                        state.peak = max(state.peak, state.running)
                        return .admitted
                    }
                    state.waiting.append((ticket, continuation))
                    return .waiting
                }
                switch outcome {
                case .admitted: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .waiting: break
                }
            }
        } onCancel: {
            let left = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiting.firstIndex(where: { $0.ticket == ticket }) else { return nil }
                return state.waiting.remove(at: index).continuation
            }
            left?.resume(throwing: CancellationError())
        }
    }

    /// Gives a place taken with ``acquire()`` back: to the first waiter, or free.
    public func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard !state.waiting.isEmpty else {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst().continuation
        }
        next?.resume()
    }
}
