import Synchronization

/// Lets one task at a time through per key; the others wait their turn in order.
///
/// Budget decisions of one tenant read the store, decide and hold money in one piece under it, so
/// two steps deciding at once cannot both be given the same room.
final class KeyedAsyncLock: Sendable {
    private struct Line {
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    /// The keys someone holds, with who waits for each.
    private let lines = Mutex<[String: Line]>([:])

    /// Runs `body` while holding `key`.
    func withLock<T>(_ key: String, _ body: () async throws -> T) async rethrows -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    private func acquire(_ key: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = lines.withLock { lines in
                if lines[key] != nil {
                    lines[key]?.waiting.append(continuation)
                    return false
                }
                lines[key] = Line()
                return true
            }
            if free { continuation.resume() }
        }
    }

    /// Hands `key` to the first waiter, or frees it.
    private func release(_ key: String) {
        let next = lines.withLock { lines -> CheckedContinuation<Void, Never>? in
            guard var line = lines[key], !line.waiting.isEmpty else {
                lines[key] = nil
                return nil
            }
            let next = line.waiting.removeFirst()
            lines[key] = line
            return next
        }
        next?.resume()
    }
}
