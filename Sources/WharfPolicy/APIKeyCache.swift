import Synchronization
import WharfCore

/// API keys read from the store in the last moments, so a request does not read its key again.
///
/// Only keys that exist are kept (a revoked key too: it stays refused); an unknown prefix is always
/// looked up. A key read more than ``lifetime`` ago is read again, so a change made elsewhere (the
/// command line, another gateway node on the same database) applies within that time; the admin API
/// of this gateway drops every entry after each write (``forgetAll()``), so a key revoked there is
/// refused from the next request. Safe to use from any task.
public final class APIKeyCache: Sendable {
    /// How long a key read from the store is used before it is read again.
    public let lifetime: Duration
    /// Entries kept at most; past that the cache starts empty again.
    private let capacity: Int
    private let entries = Mutex<[String: (key: APIKey, readAt: ContinuousClock.Instant)]>([:])

    /// - Parameters:
    ///   - lifetime: How long a key is used before it is read again (2 seconds by default).
    ///   - capacity: Keys kept at most.
    public init(lifetime: Duration = .seconds(2), capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    /// The key with this prefix, when it was read within ``lifetime``.
    func key(prefix: String, now: ContinuousClock.Instant = .now) -> APIKey? {
        entries.withLock { entries in
            guard let entry = entries[prefix] else { return nil }
            guard now - entry.readAt < lifetime else {
                entries[prefix] = nil
                return nil
            }
            return entry.key
        }
    }

    /// Keeps a key just read from the store.
    func remember(_ key: APIKey, now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            if entries.count >= capacity, entries[key.prefix] == nil { entries.removeAll(keepingCapacity: true) }
            entries[key.prefix] = (key, now)
        }
    }

    /// Drops every key: the next request of each reads it from the store.
    public func forgetAll() {
        entries.withLock { $0.removeAll() }
    }
}
