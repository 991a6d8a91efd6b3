import Foundation
import Testing
import WharfCore

@testable import WharfPolicy

/// The cache of recently read API keys: what it keeps, for how long, and how it is emptied.
@Suite(.layer(.unit)) struct APIKeyCacheTests {
    static func key(_ prefix: String) -> APIKey {
        APIKey(
            prefix: prefix,
            tenantID: "ten_a",
            name: "default",
            scopes: [.v1],
            secretHash: [UInt8](repeating: 1, count: 32),
            createdAt: Date()
        )
    }

    @Test func aKeyIsServedForItsLifetimeThenReadAgain() {
        let cache = APIKeyCache(lifetime: .seconds(2))
        let start = ContinuousClock.now
        cache.remember(Self.key("abcdefghjkmn"), now: start)
        #expect(cache.key(prefix: "abcdefghjkmn", now: start + .milliseconds(1999))?.prefix == "abcdefghjkmn")
        #expect(cache.key(prefix: "abcdefghjkmn", now: start + .seconds(2)) == nil)
        #expect(cache.key(prefix: "unknownprefx", now: start) == nil)
    }

    @Test func forgettingEmptiesItAndItsSizeIsBounded() {
        let cache = APIKeyCache(lifetime: .seconds(60), capacity: 3)
        let now = ContinuousClock.now
        for prefix in ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"] { cache.remember(Self.key(prefix), now: now) }
        #expect(cache.key(prefix: "aaaaaaaaaaaa", now: now) != nil)
        // A fourth key starts it afresh rather than growing past its capacity.
        cache.remember(Self.key("dddddddddddd"), now: now)
        #expect(cache.key(prefix: "aaaaaaaaaaaa", now: now) == nil)
        #expect(cache.key(prefix: "dddddddddddd", now: now) != nil)
        cache.forgetAll()
        #expect(cache.key(prefix: "dddddddddddd", now: now) == nil)
    }
}
