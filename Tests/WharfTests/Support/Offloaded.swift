import Dispatch

/// Runs blocking work (a child process waited for, a pipe read to its end) on a Dispatch thread, so
/// it never holds one of the few threads of Swift's cooperative pool that every test shares.
func offloaded<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
