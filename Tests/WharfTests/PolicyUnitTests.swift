import Foundation
import Logging
import Synchronization
import Testing
import WharfCore
import WharfPolicy
import WharfRouting
import WharfStore

/// The policy building blocks on their own: the rate limiter with a hand-moved clock, job slots,
/// and the client address behind proxies.
@Suite(.layer(.unit)) struct PolicyUnitTests {
    /// A clock the test moves.
    final class ManualClock: Sendable {
        private let seconds = Mutex(0.0)
        func advance(_ by: Double) { seconds.withLock { $0 += by } }
        var now: Double { seconds.withLock { $0 } }
    }

    @Test func gcraAllowsTheBurstThenOneRequestPerInterval() {
        let clock = ManualClock()
        let limiter = RateLimiter(now: { clock.now })
        let check = RateLimiter.Check(name: "key", subject: .key("abc"), limit: RateLimit(requestsPerSecond: 2, burst: 4))
        for remaining in [3, 2, 1, 0] {
            let decision = limiter.check([check])
            #expect(decision.allowed)
            #expect(decision.stateHeader.hasPrefix("\"key\";r=\(remaining);"))
        }
        let refused = limiter.check([check])
        #expect(!refused.allowed)
        #expect(refused.refusedBy == check)
        #expect(refused.retryAfterSeconds == 1)  // 0.5 s, rounded up
        #expect(refused.policyHeader == "\"key\";q=4;w=2")
        clock.advance(0.5)
        #expect(limiter.check([check]).allowed)
        #expect(!limiter.check([check]).allowed)
        // After a quiet spell the whole burst is back, and no more.
        clock.advance(60)
        #expect((0..<4).allSatisfy { _ in limiter.check([check]).allowed })
        #expect(!limiter.check([check]).allowed)
    }

    @Test func aRequestRefusedByOneLimitDoesNotCountAgainstTheOther() {
        let clock = ManualClock()
        let limiter = RateLimiter(now: { clock.now })
        let key = RateLimiter.Check(name: "key", subject: .key("k1"), limit: RateLimit(requestsPerSecond: 1, burst: 1))
        let tenant = RateLimiter.Check(name: "tenant", subject: .tenant("t1"), limit: RateLimit(requestsPerSecond: 1, burst: 2))
        #expect(limiter.check([key, tenant]).allowed)
        // The key is exhausted; the tenant still has one left, which the refused request must not take.
        #expect(!limiter.check([key, tenant]).allowed)
        let otherKey = RateLimiter.Check(name: "key", subject: .key("k2"), limit: RateLimit(requestsPerSecond: 1, burst: 1))
        #expect(limiter.check([otherKey, tenant]).allowed)
        #expect(!limiter.check([otherKey, tenant]).allowed)
    }

    @Test func jobSlotsRunUpToTheLimitQueueUpToTheDepthAndRefuseTheRest() async throws {
        let slots = JobSlots()
        let lane = JobSlots.Lane(subject: .key("k"), maxRunning: 2, maxWaiting: 1)
        let first = try slots.enter([lane])
        let second = try slots.enter([lane])
        #expect(first.startedAtOnce && second.startedAtOnce)
        let third = try slots.enter([lane])
        #expect(!third.startedAtOnce)
        #expect(throws: PolicyRefusal.self) { try slots.enter([lane]) }
        #expect(slots.running(.key("k")) == 2)
        #expect(slots.waiting(.key("k")) == 1)

        let waiting = Task { try await third.waitForTurn() }
        first.release()
        try await waiting.value
        #expect(slots.running(.key("k")) == 2)
        #expect(slots.waiting(.key("k")) == 0)
        second.release()
        third.release()
        third.release()  // twice is harmless
        #expect(slots.running(.key("k")) == 0)
    }

    @Test func aCancelledWaiterGivesItsPlaceInLineBack() async throws {
        let slots = JobSlots()
        let lane = JobSlots.Lane(subject: .tenant("t"), maxRunning: 1, maxWaiting: 1)
        let running = try slots.enter([lane])
        let queued = try slots.enter([lane])
        let waiting = Task { try await queued.waitForTurn() }
        try await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        queued.release()
        #expect(slots.waiting(.tenant("t")) == 0)
        let next = try slots.enter([lane])
        #expect(!next.startedAtOnce)
        running.release()
        try await next.waitForTurn()
        #expect(slots.running(.tenant("t")) == 1)
        next.release()
    }

    @Test func theClientAddressIsTheFirstUntrustedHopFromTheRight() throws {
        let proxies = [try #require(CIDR("10.0.0.0/8")), try #require(CIDR("::1/128"))]
        let resolver = ClientAddressResolver(trustedProxies: proxies)
        let proxy = IPAddress("10.1.2.3")
        // Only what the trusted proxies appended is believed; the client's own claim is ignored.
        #expect(
            resolver.clientAddress(peer: proxy, forwarded: [], forwardedFor: ["6.6.6.6, 203.0.113.9, 10.9.9.9"]) == IPAddress("203.0.113.9")
        )
        // The proxies write X-Forwarded-For: a Forwarded header came from the client, and is not read.
        #expect(resolver.clientAddress(peer: proxy, forwarded: ["for=198.51.100.4"], forwardedFor: ["9.9.9.9"]) == IPAddress("9.9.9.9"))
        #expect(resolver.clientAddress(peer: proxy, forwarded: ["for=198.51.100.4"], forwardedFor: []) == proxy)
        // Proxies configured to write Forwarded (RFC 7239): only that is read.
        let rfc7239 = ClientAddressResolver(trustedProxies: proxies, header: .forwarded)
        #expect(
            rfc7239.clientAddress(peer: proxy, forwarded: [#"for="[2001:db8::1]:80", for=10.0.0.7"#], forwardedFor: [])
                == IPAddress("2001:db8::1")
        )
        #expect(
            rfc7239.clientAddress(peer: proxy, forwarded: ["for=198.51.100.4:5555;proto=https"], forwardedFor: ["9.9.9.9"])
                == IPAddress("198.51.100.4")
        )
        #expect(rfc7239.clientAddress(peer: proxy, forwarded: ["for=unknown"], forwardedFor: []) == proxy)
        // An untrusted peer's headers are not read.
        #expect(
            resolver.clientAddress(peer: IPAddress("192.0.2.1"), forwarded: [], forwardedFor: ["203.0.113.9"]) == IPAddress("192.0.2.1")
        )
        // No header: the peer.
        #expect(resolver.clientAddress(peer: proxy, forwarded: [], forwardedFor: []) == proxy)
    }

    @Test func aWaitingJobOfOneKeyDoesNotHoldUpAnotherKeyOfItsTenant() async throws {
        let slots = JobSlots()
        let tenant = JobSlots.Lane(subject: .tenant("t"), maxRunning: 10, maxWaiting: 10)
        let keyA = JobSlots.Lane(subject: .key("a"), maxRunning: 1, maxWaiting: 5)
        let keyB = JobSlots.Lane(subject: .key("b"), maxRunning: 5, maxWaiting: 5)
        let first = try slots.enter([keyA, tenant])
        let second = try slots.enter([keyA, tenant])
        #expect(first.startedAtOnce && !second.startedAtOnce)
        // Key A's line does not stop key B while the tenant has room.
        let other = try slots.enter([keyB, tenant])
        #expect(other.startedAtOnce)
        // The tenant full: B's next job waits, and a slot A frees goes to A's waiting job first.
        let tight = JobSlots()
        let small = JobSlots.Lane(subject: .tenant("t"), maxRunning: 2, maxWaiting: 10)
        let runningA = try tight.enter([keyA, small])
        let runningB = try tight.enter([keyB, small])
        let waitingA = try tight.enter([keyA, small])
        let waitingB = try tight.enter([keyB, small])
        #expect(!waitingA.startedAtOnce && !waitingB.startedAtOnce)
        runningB.release()  // a tenant slot frees: A's waiter still has no room in its key, B's takes it
        try await waitingB.waitForTurn()
        runningA.release()
        try await waitingA.waitForTurn()
        for place in [first, second, other, waitingA, waitingB] { place.release() }
        #expect(tight.running(.tenant("t")) == 0)
        #expect(slots.running(.tenant("t")) == 0)
    }

    @Test func limitsRejectNonsenseWithTheFieldNamed() throws {
        let decoder = JSONDecoder()
        #expect(throws: DecodingError.self) { try decoder.decode(Limits.self, from: Data(#"{"allowed_networks":["10.0.0.0/33"]}"#.utf8)) }
        for (document, field) in [
            (#"{"rate":{"requests_per_second":0,"burst":1}}"#, "rate.requests_per_second"),
            (#"{"rate":{"requests_per_second":1e-13,"burst":1000000}}"#, "rate.requests_per_second"),
            (#"{"rate":{"requests_per_second":1,"burst":0}}"#, "rate.burst"),
            (#"{"max_concurrent_jobs":0}"#, "max_concurrent_jobs"),
            (#"{"budget":{"daily":-1}}"#, "budget.daily"),
            (#"{"budget":{"alert_percents":[0]}}"#, "budget.alert_percents"),
        ] {
            let limits = try decoder.decode(Limits.self, from: Data(document.utf8))
            #expect {
                try limits.validate()
            } throws: { error in
                "\(error)".contains(field)
            }
        }
        let round = try decoder.decode(
            Limits.self,
            from: try JSONEncoder().encode(Limits(allowedNetworks: [try #require(CIDR("2001:db8::/32"))], maxConcurrentJobs: 3))
        )
        #expect(round.allowedNetworks?.first?.description == "2001:db8::/32")
        #expect(round.maxConcurrentJobs == 3)
    }
}

extension PolicyUnitTests {
    @Test func aChangedLimitStartsWithAFullBucket() {
        let clock = ManualClock()
        let limiter = RateLimiter(now: { clock.now })
        let strict = RateLimiter.Check(name: "key", subject: .key("k"), limit: RateLimit(requestsPerSecond: 0.1, burst: 1))
        #expect(limiter.check([strict]).allowed)
        #expect(!limiter.check([strict]).allowed)
        let generous = RateLimiter.Check(name: "key", subject: .key("k"), limit: RateLimit(requestsPerSecond: 100, burst: 2))
        #expect(limiter.check([generous]).allowed)
        #expect(limiter.check([generous]).allowed)
        #expect(!limiter.check([generous]).allowed)
    }
}

extension PolicyUnitTests {
    @Test func aRoutingSeedDrawsTheSameNumbersEveryTime() {
        var first = RoutingRandom(seed: 42)
        var second = RoutingRandom(seed: 42)
        var other = RoutingRandom(seed: 43)
        let drawn = (0..<8).map { _ in first.next() }
        #expect(drawn == (0..<8).map { _ in second.next() })
        #expect(drawn != (0..<8).map { _ in other.next() })
        // Each step of a job gets its own stable seed.
        #expect(RoutingRandom.seed(42, step: "sketch") == RoutingRandom.seed(42, step: "sketch"))
        #expect(RoutingRandom.seed(42, step: "sketch") != RoutingRandom.seed(42, step: "paint"))
    }
}

extension PolicyUnitTests {
    @Test func failedAuthenticationsPastTheBurstAreThrottledAndReportedOncePerSpell() {
        let clock = ManualClock()
        let throttle = AuthenticationThrottle(burst: 3, perMinute: 6, now: { clock.now })
        #expect((0..<3).allSatisfy { _ in throttle.failed(from: "192.0.2.1") == .record })
        #expect(throttle.failed(from: "192.0.2.1") == .throttle(retryAfterSeconds: 10, report: true))
        #expect(throttle.failed(from: "192.0.2.1") == .throttle(retryAfterSeconds: 10, report: false))
        // Another address is not affected.
        #expect(throttle.failed(from: "192.0.2.2") == .record)
        // One failure more is allowed every ten seconds.
        clock.advance(10)
        #expect(throttle.failed(from: "192.0.2.1") == .record)
        #expect(throttle.failed(from: "192.0.2.1") == .throttle(retryAfterSeconds: 10, report: true))
    }

    @Test func anIPv6ClientIsCountedByItsSlash64() {
        let clock = ManualClock()
        let throttle = AuthenticationThrottle(burst: 3, perMinute: 6, now: { clock.now })
        // One host rotating through its /64 shares one bound.
        for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
            #expect(throttle.failed(from: host) == .record)
        }
        #expect(throttle.failed(from: "2001:db8:1:2::4") == .throttle(retryAfterSeconds: 10, report: true))
        // The next /64 is another client.
        #expect(throttle.failed(from: "2001:db8:1:3::1") == .record)
    }

    @Test func manyClientsTogetherAreAuditedAtMostSoManyAMinute() {
        let clock = ManualClock()
        let throttle = AuthenticationThrottle(burst: 3, perMinute: 6, auditedPerMinute: 5, now: { clock.now })
        for index in 1...5 { #expect(throttle.failed(from: "198.51.100.\(index)") == .record) }
        // The sixth address is within its own bound but past the global one: one report a minute.
        guard case .throttle(_, report: true) = throttle.failed(from: "198.51.100.6") else {
            Issue.record("the global bound did not throttle")
            return
        }
        guard case .throttle(_, report: false) = throttle.failed(from: "198.51.100.7") else {
            Issue.record("the global bound was reported twice in a minute")
            return
        }
        clock.advance(60)
        #expect(throttle.failed(from: "198.51.100.8") == .record)
    }
}

/// The policy engine's budgets against a real SQLite store.
@Suite(.layer(.unit)) struct BudgetEngineTests {
    static func engine(markup: Int = 0) async throws -> (PolicyEngine<SQLiteStore>, SQLiteStore, Tenant, TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.file("wharf.sqlite"))
        _ = try await store.migrate()
        let tenant = Tenant(name: "acme")
        try await store.insertTenant(tenant)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return (PolicyEngine(store: store, markupPercent: markup, logger: logger), store, tenant, directory)
    }

    @Test func jobsAdmittedAtOnceSeeEachOthersEstimates() async throws {
        let (engine, store, tenant, _) = try await Self.engine()
        try await store.setLimits(Limits(budget: Budget(daily: 150)), for: .tenant(tenant.id), at: Date())
        // Ten jobs of 100 at once against a daily 150: exactly one fits.
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<10 {
                group.addTask {
                    let claim = JobClaim(jobID: "job_\(index)", tenantID: tenant.id, keyPrefix: nil, estimatedNetworkCost: 100)
                    return (try? await engine.admit(claim)) != nil
                }
            }
            var admitted: [Bool] = []
            for await result in group { admitted.append(result) }
            return admitted
        }
        #expect(results.filter { $0 }.count == 1)
    }

    /// Twenty steps authorized at once against a budget that fits five, each then charged what
    /// it was allowed (`atCap`: the dearest orchestrator it may use) or its estimate.
    static func runConcurrentSteps(jobs: Int, atCap: Bool) async throws -> (charged: Int, total: Int64) {
        let (engine, store, tenant, directory) = try await engine()
        try await store.setLimits(Limits(budget: Budget(daily: 500)), for: .tenant(tenant.id), at: Date())
        var all: [Job] = []
        for _ in 0..<jobs {
            let job = Job(tenantID: tenant.id, kind: "preset:x", request: Data("{}".utf8))
            try await store.insertJob(job)
            all.append(job)
        }
        let charged = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<20 {
                let job = all[index % all.count]
                group.addTask {
                    guard let cap = try? await engine.authorize(job, stepID: "s\(index)", estimatedNetworkCost: 100, usage: nil) else {
                        return false
                    }
                    await Task.yield()
                    return (try? await engine.charge(job, stepID: "s\(index)", networkCost: atCap ? cap : 100)) != nil
                }
            }
            var count = 0
            for await done in group where done { count += 1 }
            return count
        }
        withExtendedLifetime(directory) {}
        return (charged, try await store.spent(tenantID: tenant.id, keyPrefix: nil, in: SpendPeriod.day(containing: Date())))
    }

    @Test(arguments: [(1, true), (1, false), (20, true), (20, false)])
    func concurrentStepsCannotBeGivenTheSameRoom(jobs: Int, atCap: Bool) async throws {
        let (charged, total) = try await Self.runConcurrentSteps(jobs: jobs, atCap: atCap)
        #expect(charged >= 1 && charged <= 5)
        #expect(total <= 500)
    }

    @Test func aStepIsCappedAtTheBudgetLeftAndChargedWithTheMarkup() async throws {
        let (engine, store, tenant, _) = try await Self.engine(markup: 25)
        try await store.setLimits(Limits(budget: Budget(perJob: 1000)), for: .tenant(tenant.id), at: Date())
        let job = Job(tenantID: tenant.id, kind: "preset:x", request: Data("{}".utf8))
        try await store.insertJob(job)
        // 400 of network cost is 500 charged; the step may spend up to 1000 charged = 800 network.
        #expect(try await engine.authorize(job, stepID: "a", estimatedNetworkCost: 400, usage: nil) == 800)
        try await engine.charge(job, stepID: "a", networkCost: 400)
        #expect(try await store.spending(jobID: job.id).map(\.amount) == [500])
        // 500 charged are left: 400 network fits exactly, 401 does not.
        #expect(try await engine.authorize(job, stepID: "b", estimatedNetworkCost: 400, usage: nil) == 400)
        await #expect(throws: PolicyRefusal.self) { try await engine.authorize(job, stepID: "b", estimatedNetworkCost: 401, usage: nil) }
        #expect(engine.charge(for: 1) == 2)  // rounded up
        #expect(engine.charge(for: .max) == .max)  // saturates, never traps
    }
}
