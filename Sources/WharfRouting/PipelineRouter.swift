public import Foundation
public import Metrics
import Tracing
public import WharfCore
public import WharfLivepeer

/// Runs one AI pipeline request on the network: picks candidates from the pool, sends the request,
/// and on a retryable failure tries a *different* orchestrator, within a per-attempt timeout and an
/// overall deadline. Every attempt is recorded and counted in metrics.
public struct PipelineRouter: Sendable {
    /// One try on one orchestrator.
    public struct Attempt: Sendable, Hashable {
        /// Why an attempt was made.
        public enum Role: String, Sendable, Hashable, Codable {
            /// The step's first try.
            case first
            /// A try after an attempt failed.
            case retry
            /// A second try beside one that had not answered yet.
            case hedge
        }

        public var orchestrator: OrchestratorAddress
        public var latency: Duration
        /// `ok`, `timeout`, `connection refused`, `http 503`, `hedge lost`, …
        public var outcome: String
        public var price: OrchestratorOffer.Price
        public var role: Role = .first
        /// What the operator owes the orchestrator for it, in wei: set for the attempt that did the
        /// step and for one that lost a hedge race (it did the work too); `nil` for failures.
        public var cost: Int64?
        /// Why this orchestrator was chosen.
        public var decision: RoutingDecision?
    }

    /// A completed step.
    public struct Outcome: Sendable {
        public var response: AIJobClient.Response
        public var orchestrator: OrchestratorAddress
        /// The offer the step ran under (its transcoder URL locates result files).
        public var offer: OrchestratorOffer
        public var price: OrchestratorOffer.Price
        public var attempts: [Attempt]
    }

    private let pool: OrchestratorPool
    private let jobs: AIJobClient
    private let pins: CertificatePins?
    private let policy: RoutingPolicy
    private let metrics: any MetricsFactory
    private let signer: RemoteSigner?
    /// Extra attempts sent, against the requests routed (shared by every copy of the router).
    private let retryBudget: RetryBudget
    /// Answer times per pipeline and model, for the hedge delay.
    private let observed = ObservedLatencies()

    /// - Parameters:
    ///   - pins: Where pinned certificates are found for job requests; `nil` verifies against CAs.
    ///   - signer: On-chain, the remote signer that pays orchestrators asking for tickets; without one
    ///     such orchestrators are skipped.
    public init(
        pool: OrchestratorPool,
        jobs: AIJobClient,
        pins: CertificatePins?,
        policy: RoutingPolicy,
        metrics: any MetricsFactory,
        signer: RemoteSigner? = nil
    ) {
        self.pool = pool
        self.jobs = jobs
        self.pins = pins
        self.policy = policy
        self.metrics = metrics
        self.signer = signer
        self.retryBudget = RetryBudget(policy: policy.retryBudget)
    }

    /// The lowest price on offer now for `pipeline` and `model`, per unit of work.
    public func lowestPrice(for pipeline: Pipeline, model: String?) async -> OrchestratorOffer.Price? {
        await pool.lowestPrice(for: pipeline, model: model)
    }

    /// Runs `request` for `model`, on orchestrators at or under `priceCap` and in `region` when given.
    ///
    /// A retryable failure sends the step to a different orchestrator; a hedgeable step that has
    /// not been answered after the hedge delay is sent to a second one beside the first, and the
    /// first good answer wins (the other is cancelled and recorded as `hedge lost`, with its cost).
    /// Retries and hedges after the first attempt that reached an orchestrator are taken from the
    /// node's ``RetryBudget``.
    /// - Parameters:
    ///   - seed: Makes the choice among equally good orchestrators repeatable (the `balanced`
    ///     strategy's draw); `nil` draws from the system generator.
    ///   - hedge: `false` never hedges this step (`Wharf-Hedge: off`).
    ///   - capacityWait: How long the step waits for room while every orchestrator that could take
    ///     it is full.
    /// - Throws: ``RoutingError`` when no orchestrator completes it.
    public func run(
        _ request: AIJobClient.Request,
        model: String,
        priceCap: OrchestratorOffer.Price?,
        region: String? = nil,
        seed: UInt64? = nil,
        hedge: Bool = true,
        capacityWait: CapacityWait = .policy
    ) async throws -> Outcome {
        try await run(
            request,
            model: model,
            constraints: RouteConstraints(priceCap: priceCap, region: region),
            seed: seed,
            hedge: hedge,
            capacityWait: capacityWait
        )
    }

    /// How long a step waits for room while every orchestrator that could take it is full (as it
    /// last reported, with this node's own attempts, or because it just refused one for capacity).
    public enum CapacityWait: Sendable, Hashable {
        /// The routing policy's ``RoutingPolicy/capacityWait``: a client is waiting on the call.
        case policy
        /// Until the step's deadline: a background job's step, which nobody is waiting on, queues
        /// for the network rather than fail in a burst.
        case untilDeadline
    }

    /// Runs `request` for `model` within `constraints` (price cap, regions, the tenant's policy),
    /// steered by its preferences (preferred orchestrators, the client's region), as
    /// ``run(_:model:priceCap:region:seed:hedge:)``.
    public func run(
        _ request: AIJobClient.Request,
        model: String,
        constraints: RouteConstraints,
        seed: UInt64? = nil,
        hedge: Bool = true,
        capacityWait: CapacityWait = .policy
    ) async throws -> Outcome {
        let priceCap = constraints.priceCap
        let clock = ContinuousClock()
        let deadline = clock.now + policy.deadline
        let pipeline = request.pipeline
        retryBudget.recordRequest(pipeline.rawValue)
        let hedgeDelay = hedge && !request.streamsEvents ? hedgeDelay(for: pipeline, model: model) : nil
        var attempts: [Attempt] = []
        var tried: Set<OrchestratorAddress> = []
        var generator = RoutingRandom(seed: seed)
        var budgetSpent = false
        let capacityWaitEnd = capacityWait == .untilDeadline ? deadline : min(deadline, clock.now + policy.capacityWait)
        /// The decision of a retry or hedge that found no orchestrator.
        var heldBack: RoutingDecision?
        return try await withThrowingTaskGroup(of: RaceEvent.self) { group in
            var running = 0
            var reachedAny = false
            var next: Attempt.Role? = .first
            while true {
                if let role = next, !Task.isCancelled {
                    next = nil
                    let selection = await pool.pick(
                        for: pipeline,
                        model: model,
                        constraints: constraints,
                        excluding: tried,
                        canPay: signer != nil,
                        reserving: true,
                        using: &generator
                    )
                    if let candidate = selection.candidate {
                        tried.insert(candidate.address)
                        running += 1
                        let decision = selection.decision
                        group.addTask {
                            let result = await self.attempt(
                                request,
                                role: role,
                                on: candidate,
                                decision: decision,
                                model: model,
                                priceCap: priceCap,
                                deadline: deadline
                            )
                            // The slot the pick reserved, however the attempt ended.
                            await self.pool.endAttempt(candidate.address)
                            return .finished(result)
                        }
                        if role == .first, let hedgeDelay {
                            group.addTask {
                                try? await Task.sleep(for: hedgeDelay)
                                return .hedgeDue
                            }
                        }
                    } else if running == 0, selection.decision.excluded.capacity > 0, clock.now < capacityWaitEnd {
                        // Every orchestrator that could take it is busy: wait for a slot (this
                        // node's own attempts end within their timeout; a full one reports room at
                        // its next probe, one that refused for capacity is asked again shortly)
                        // rather than turn a burst away.
                        try await Task.sleep(for: .milliseconds(20))
                        next = role
                        continue
                    } else if running == 0, attempts.allSatisfy({ $0.outcome == Self.atCapacityOutcome }) {
                        throw RoutingError(
                            kind: .noOrchestrator,
                            message: Self.explain(selection.decision, pipeline: pipeline, model: model, constraints: constraints),
                            attempts: attempts
                        )
                    } else {
                        heldBack = selection.decision
                    }
                }
                guard running > 0, let event = try await group.next() else { break }
                switch event {
                case .hedgeDue:
                    // Still waiting on the first attempt alone: ask a second orchestrator beside it.
                    guard running == 1, tried.count < policy.maxAttempts, clock.now < deadline else { continue }
                    if retryBudget.spendExtra(pipeline.rawValue) {
                        next = .hedge
                    } else {
                        budgetSpent = true
                        count("wharf_routing_retry_budget_exhausted_total", pipeline)
                    }
                case .finished(let result):
                    running -= 1
                    attempts.append(contentsOf: result.attempts)
                    reachedAny = reachedAny || result.reachedOrchestrator
                    switch result.ending {
                    case .answered(let answer):
                        group.cancelAll()
                        // The other attempt, if any, lost the race: it ends now, and what it cost is kept.
                        while let lost = try await group.next() {
                            guard case .finished(let loser) = lost else { continue }
                            for var attempt in loser.attempts {
                                if attempt.outcome == Self.canceledOutcome {
                                    attempt.outcome = "hedge lost"
                                    attempt.cost = attempt.price.cost(units: request.units)
                                    count("wharf_routing_hedges_lost_total", pipeline)
                                    await pool.recordUnanswered(attempt.orchestrator, after: attempt.latency)
                                }
                                attempts.append(attempt)
                            }
                        }
                        if result.role == .hedge { count("wharf_routing_hedges_won_total", pipeline) }
                        observed.record(pipeline, model: model, latency: result.attempts.last?.latency ?? .zero)
                        return Outcome(
                            response: answer.response,
                            orchestrator: answer.orchestrator,
                            offer: answer.offer,
                            price: answer.price,
                            attempts: attempts
                        )
                    case .rejected(let error):
                        group.cancelAll()
                        while try await group.next() != nil {}
                        throw RoutingError(kind: error.kind, message: error.message, attempts: attempts)
                    case .atCapacity(let orchestrator):
                        // Full, not failing: it may be asked again once it has room, and the step
                        // keeps its attempts for real failures.
                        tried.remove(orchestrator)
                        guard running == 0, clock.now < deadline, !Task.isCancelled else { continue }
                        next = result.role == .hedge ? .retry : result.role
                    case .failed:
                        guard running == 0, tried.count < policy.maxAttempts, clock.now < deadline, !Task.isCancelled else { continue }
                        // A retry after an attempt that reached an orchestrator is extra load on the network.
                        if !reachedAny || retryBudget.spendExtra(pipeline.rawValue) {
                            next = .retry
                        } else {
                            budgetSpent = true
                            count("wharf_routing_retry_budget_exhausted_total", pipeline)
                        }
                    }
                }
            }
            let summary = attempts.map(\.outcome).joined(separator: ", ")
            let orchestrators = Set(attempts.map(\.orchestrator)).count
            var message =
                clock.now >= deadline && attempts.isEmpty
                ? "no orchestrator answered before the deadline"
                : "\(orchestrators) orchestrator\(orchestrators == 1 ? "" : "s") failed: \(summary)"
            if budgetSpent { message += " (no further retry: the gateway's retry budget for \(pipeline.rawValue) is spent)" }
            if let heldBack, heldBack.excluded.region > 0, let regions = constraints.regions {
                // The work stays where it is held even when that means failing: say so, as the
                // customer's rule, not as the orchestrators' fault.
                let names = regions.sorted().joined(separator: ", ")
                message +=
                    "; no other orchestrator in the regions this work is held to (\(names)) can take it, and it is not sent elsewhere"
                throw RoutingError(kind: .noOrchestrator, message: message, attempts: attempts)
            }
            throw RoutingError(kind: .allAttemptsFailed, message: message, attempts: attempts)
        }
    }

    /// The orchestrator the first attempt of a step would go to now, and why: the same pick as
    /// ``run(_:model:constraints:seed:hedge:)`` makes with the same seed, with nothing sent.
    public func preview(
        _ pipeline: Pipeline,
        model: String,
        constraints: RouteConstraints,
        seed: UInt64?
    ) async -> OrchestratorPool.Selection {
        var generator = RoutingRandom(seed: seed)
        return await pool.pick(for: pipeline, model: model, constraints: constraints, canPay: signer != nil, using: &generator)
    }

    /// What the race of a step's attempts hears: an attempt ended, or the hedge delay passed.
    private enum RaceEvent: Sendable {
        case finished(AttemptResult)
        case hedgeDue
    }

    /// How one orchestrator's turn at a step ended.
    private struct AttemptResult: Sendable {
        enum Ending: Sendable {
            /// It completed the step.
            case answered(Answer)
            /// It refused the request itself (a 4xx caused by the request): no one else is asked.
            case rejected(RoutingError)
            /// It failed; another orchestrator may be asked.
            case failed
            /// It refused for capacity: not a failure; it and others may be asked again.
            case atCapacity(OrchestratorAddress)
        }

        struct Answer: Sendable {
            var response: AIJobClient.Response
            var orchestrator: OrchestratorAddress
            var offer: OrchestratorOffer
            var price: OrchestratorOffer.Price
        }

        var role: Attempt.Role
        var ending: Ending
        /// What was tried on the orchestrator (a token refresh makes two).
        var attempts: [Attempt]
        /// Whether a request reached the orchestrator (not only a price check or a signer call).
        var reachedOrchestrator: Bool
    }

    /// The outcome of an attempt that was cancelled: it lost a hedge race, or the caller left.
    static let canceledOutcome = "canceled"

    /// The outcome of an attempt the orchestrator refused because it was full (its other work may
    /// come from other gateways, which this node's count of its own attempts cannot see).
    public static let atCapacityOutcome = "at capacity"

    /// Whether an answer is an orchestrator's refusal for capacity: go-livepeer answers 503 with
    /// `insufficient capacity` when every slot of the pipeline is taken.
    static func isCapacityRefusal(status: Int, text: String) -> Bool {
        status == 503 && text.range(of: "insufficient capacity", options: .caseInsensitive) != nil
    }

    /// The delay after which a step of `pipeline` with `model` is hedged, or `nil` when it is not.
    private func hedgeDelay(for pipeline: Pipeline, model: String) -> Duration? {
        let hedging = policy.hedging
        guard hedging.enabled, hedging.pipelines.contains(pipeline), policy.maxAttempts > 1 else { return nil }
        if let delay = hedging.delay { return delay }
        return observed.hedgeDelay(pipeline, model: model, minimumSamples: hedging.samplesBeforeObservedDelay)
            .map { max($0, hedging.minimumDelay) }
    }

    private func count(_ label: String, _ pipeline: Pipeline) {
        Counter(label: label, dimensions: [("pipeline", pipeline.rawValue)], factory: metrics).increment()
    }

    /// One orchestrator's turn at a step, as a client span (`orchestrator <pipeline>`) of the trace
    /// the step is in; its routing decision carries the trace's id.
    private func attempt(
        _ request: AIJobClient.Request,
        role: Attempt.Role,
        on candidate: OrchestratorPool.Candidate,
        decision: RoutingDecision,
        model: String,
        priceCap: OrchestratorOffer.Price?,
        deadline: ContinuousClock.Instant
    ) async -> AttemptResult {
        await withSpan("orchestrator \(request.pipeline.rawValue)", ofKind: .client) { span in
            span.attributes["gw.orchestrator"] = candidate.address.description
            span.attributes["gw.attempt.role"] = role.rawValue
            span.attributes["gw.pipeline"] = request.pipeline.rawValue
            var traced = decision
            traced.traceID = TraceIdentity.current
            let result = await untracedAttempt(
                request,
                role: role,
                on: candidate,
                decision: traced,
                model: model,
                priceCap: priceCap,
                deadline: deadline
            )
            let outcome = result.attempts.last?.outcome ?? "none"
            span.attributes["gw.attempt.outcome"] = outcome
            if outcome != "ok" { span.setStatus(SpanStatus(code: .error, message: outcome)) }
            return result
        }
    }

    /// One orchestrator's turn at a step: a fresh token when its own expired, payment, the request,
    /// and one more try on the same orchestrator when it refused the token or changed certificate.
    private func untracedAttempt(
        _ request: AIJobClient.Request,
        role: Attempt.Role,
        on candidate: OrchestratorPool.Candidate,
        decision: RoutingDecision,
        model: String,
        priceCap: OrchestratorOffer.Price?,
        deadline: ContinuousClock.Instant
    ) async -> AttemptResult {
        let clock = ContinuousClock()
        var attempts: [Attempt] = []
        var reached = false
        var offer = candidate.offer
        var refreshedToken = false
        func ended(_ ending: AttemptResult.Ending) -> AttemptResult {
            AttemptResult(role: role, ending: ending, attempts: attempts, reachedOrchestrator: reached)
        }
        func note(_ latency: Duration, _ outcome: String) {
            var attempt = record(candidate, latency, outcome, request.pipeline)
            attempt.role = role
            attempt.decision = decision
            attempts.append(attempt)
        }
        while true {
            let start = clock.now
            let remaining = deadline - start
            let outcome: String
            do {
                if offer.authToken?.isExpired() ?? true {
                    offer = try await pool.refreshOffer(candidate.address)
                }
                // Checked again after every refresh: an orchestrator may change its price with
                // its new token. The price the step is paid at is the one it goes out with.
                let price = try Self.usablePrice(offer.price(for: request.pipeline, model: model), units: request.units, cap: priceCap)
                var paid = request
                if offer.requiresPayment, let signer {
                    let payment = try await signer.payment(
                        for: offer,
                        orchestrator: candidate.address,
                        manifestID: request.manifestID,
                        units: request.units
                    )
                    paid.payment = payment.payment
                    paid.segmentCredentials = payment.segmentCredentials
                }
                reached = true
                let response = try await jobs.send(
                    paid,
                    to: offer,
                    pinnedCertificate: pins?.certificate(of: candidate.address),
                    // A stream's attempt lasts as long as the stream: only the deadline bounds it.
                    timeout: request.streamsEvents ? remaining : min(policy.attemptTimeout, remaining)
                )
                let latency = clock.now - start
                if (200..<300).contains(response.status) {
                    await pool.recordSuccess(candidate.address, latency: latency)
                    note(latency, "ok")
                    attempts[attempts.count - 1].price = price
                    attempts[attempts.count - 1].cost = price.cost(units: request.units)
                    return ended(.answered(.init(response: response, orchestrator: candidate.address, offer: offer, price: price)))
                }
                let text = String(decoding: response.body.prefix(200), as: UTF8.self)
                if response.status == 403, text.contains("auth token"), !refreshedToken {
                    // The orchestrator no longer accepts the token (expired, or it restarted): get a
                    // new one with GetOrchestrator and try the same orchestrator once more.
                    note(latency, "auth token refused")
                    offer = try await pool.refreshOffer(candidate.address)
                    refreshedToken = true
                    continue
                }
                if Self.isCapacityRefusal(status: response.status, text: text) {
                    note(latency, Self.atCapacityOutcome)
                    await pool.recordFull(candidate.address)
                    return ended(.atCapacity(candidate.address))
                }
                if [400, 413, 415, 422].contains(response.status) {
                    note(latency, "http \(response.status)")
                    return ended(
                        .rejected(
                            RoutingError(
                                kind: .rejected(status: response.status),
                                message: "the orchestrator rejected the request (\(response.status)): \(text)",
                                attempts: []
                            )
                        )
                    )
                }
                outcome = "http \(response.status)"
            } catch let refused as UnusablePrice {
                // Its price, not its health: try another orchestrator without holding this against it.
                note(clock.now - start, refused.reason)
                return ended(.failed)
            } catch RemoteSigner.Failure.refreshOrchestrator where !refreshedToken {
                // The signer wants fresh orchestrator info: get it and pay again, once.
                note(clock.now - start, "payment refresh")
                refreshedToken = true
                if let refreshed = try? await pool.refreshOffer(candidate.address) {
                    offer = refreshed
                    continue
                }
                outcome = "payment failed"
            } catch let failure as RemoteSigner.Failure {
                // Not the orchestrator's fault: try another one without counting it against this one.
                note(clock.now - start, failure == .priceExceeded ? "price over the signer's maximum" : "payment failed")
                return ended(.failed)
            } catch {
                if Task.isCancelled {
                    // Lost a hedge race, or the caller left: not the orchestrator's fault.
                    note(clock.now - start, Self.canceledOutcome)
                    return ended(.failed)
                }
                if !refreshedToken, Self.isCertificateFailure(error) {
                    // A pinned orchestrator restarted with a new certificate: probe it again, which
                    // pins the new certificate and fetches a new token, then retry it once.
                    note(clock.now - start, "certificate changed")
                    refreshedToken = true
                    if let refreshed = try? await pool.refreshOffer(candidate.address) {
                        offer = refreshed
                        continue
                    }
                    await pool.recordFailure(candidate.address, reason: "certificate changed")
                    return ended(.failed)
                }
                outcome = clock.now >= start + min(policy.attemptTimeout, remaining) ? "timeout" : OrchestratorPool.describe(error)
            }
            note(clock.now - start, outcome)
            await pool.recordFailure(candidate.address, reason: outcome)
            return ended(.failed)
        }
    }

    /// The units a segment is paid for: its renditions' pixels a second (at least 30 frames a
    /// second each) times its seconds, saturating rather than trapping on absurd profiles.
    static func transcodingUnits(_ profiles: [TranscodeProfile], duration: Duration) -> Int64 {
        var units: Int64 = 0
        let seconds = max(1, duration.components.seconds)
        for profile in profiles {
            let factors = [Int64(profile.width), Int64(profile.height), Int64(max(profile.fps, 30)), seconds]
            let rendition = factors.reduce(Int64(1)) { product, factor in
                let (result, overflow) = product.multipliedReportingOverflow(by: max(0, factor))
                return overflow ? .max : result
            }
            let (sum, overflow) = units.addingReportingOverflow(rendition)
            units = overflow ? .max : sum
        }
        return units
    }

    /// Why an orchestrator's current price rules it out for a step.
    struct UnusablePrice: Error {
        var reason: String
    }

    /// `price` when a step of `units` may be sent at it: offered, under `cap`, and at a cost that
    /// can be reckoned (an absurd price, whose cost does not fit in 64 bits, cannot be charged).
    static func usablePrice(
        _ price: OrchestratorOffer.Price?,
        units: Int64,
        cap: OrchestratorOffer.Price?
    ) throws -> OrchestratorOffer.Price {
        guard let price else { throw UnusablePrice(reason: "no longer offered") }
        if let cap, !price.isAtMost(cap) { throw UnusablePrice(reason: "price over the cap") }
        guard price.cost(units: units) != nil else { throw UnusablePrice(reason: "price beyond reckoning") }
        return price
    }

    /// A transcoded segment and where it was done.
    public struct TranscodeOutcome: Sendable {
        public var segment: TranscodedSegment
        public var orchestrator: OrchestratorAddress
        /// The offer it ran under (its transcoder URL locates the renditions).
        public var offer: OrchestratorOffer
        public var price: OrchestratorOffer.Price
        public var attempts: [Attempt]
    }

    /// Transcodes one media segment into `profiles` on the network, with the same failover as AI
    /// steps: a different orchestrator per attempt, per-attempt timeout, overall deadline, a fresh
    /// `GetOrchestrator` for an expired token, suspension of orchestrators that keep failing.
    /// - Throws: ``RoutingError`` when no orchestrator completes it.
    public func transcode(
        segment: Data,
        sequenceNumber: Int64,
        duration: Duration,
        profiles: [TranscodeProfile],
        manifestID: String,
        priceCap: OrchestratorOffer.Price?,
        region: String? = nil
    ) async throws -> TranscodeOutcome {
        let clock = ContinuousClock()
        let deadline = clock.now + policy.deadline
        var attempts: [Attempt] = []
        var tried: Set<OrchestratorAddress> = []
        var generator = SystemRandomNumberGenerator()
        while tried.count < policy.maxAttempts, clock.now < deadline {
            let selection = await pool.pickTranscoder(
                constraints: RouteConstraints(priceCap: priceCap, region: region),
                excluding: tried,
                canPay: signer != nil,
                using: &generator
            )
            guard let candidate = selection.candidate else {
                if attempts.isEmpty {
                    throw RoutingError(
                        kind: .noOrchestrator,
                        message: selection.decision.excluded.price > 0
                            ? "no orchestrator transcodes under your price cap"
                            : "no orchestrator is available for transcoding right now",
                        attempts: attempts
                    )
                }
                break
            }
            tried.insert(candidate.address)
            let start = clock.now
            let remaining = deadline - start
            var outcome: String
            do {
                var offer = candidate.offer
                if offer.authToken?.isExpired() ?? true {
                    offer = try await pool.refreshOffer(candidate.address)
                }
                // Held to the cap after a refresh too, and paid at the price it goes out with.
                let units = Self.transcodingUnits(profiles, duration: duration)
                let price = try Self.usablePrice(offer.defaultPrice, units: units, cap: priceCap)
                var payment: String?
                if offer.requiresPayment, let signer {
                    payment = try await signer.payment(
                        for: offer,
                        orchestrator: candidate.address,
                        manifestID: manifestID,
                        units: units
                    ).payment
                }
                let transcoded = try await jobs.transcode(
                    segment: segment,
                    sequenceNumber: sequenceNumber,
                    duration: duration,
                    profiles: profiles,
                    manifestID: manifestID,
                    to: offer,
                    pinnedCertificate: pins?.certificate(of: candidate.address),
                    payment: payment,
                    timeout: min(policy.attemptTimeout, remaining)
                )
                let latency = clock.now - start
                await pool.recordSuccess(candidate.address, latency: latency)
                attempts.append(record(candidate, latency, "ok", "transcode"))
                return TranscodeOutcome(
                    segment: transcoded,
                    orchestrator: candidate.address,
                    offer: offer,
                    price: price,
                    attempts: attempts
                )
            } catch let refused as UnusablePrice {
                attempts.append(record(candidate, clock.now - start, refused.reason, "transcode"))
                continue
            } catch let failure as RemoteSigner.Failure {
                attempts.append(
                    record(
                        candidate,
                        clock.now - start,
                        failure == .priceExceeded ? "price over the signer's maximum" : "payment failed",
                        "transcode"
                    )
                )
                continue
            } catch let refusal as SegmentRefused {
                outcome = "http \(refusal.status)"
            } catch is WharfError {
                outcome = "transcode failed"
            } catch {
                outcome = clock.now >= start + min(policy.attemptTimeout, remaining) ? "timeout" : OrchestratorPool.describe(error)
            }
            attempts.append(record(candidate, clock.now - start, outcome, "transcode"))
            await pool.recordFailure(candidate.address, reason: outcome)
        }
        let summary = attempts.map(\.outcome).joined(separator: ", ")
        let count = Set(attempts.map(\.orchestrator)).count
        throw RoutingError(
            kind: .allAttemptsFailed,
            message: attempts.isEmpty
                ? "no orchestrator answered before the deadline"
                : "\(count) orchestrator\(count == 1 ? "" : "s") failed: \(summary)",
            attempts: attempts
        )
    }

    /// Downloads a result file named in a completed step's reply, from the orchestrator that made it.
    public func fetchResult(_ reference: String, of outcome: Outcome) async throws -> AIJobClient.ResultFile {
        try await jobs.fetchResult(
            reference,
            from: outcome.offer,
            pinnedCertificate: pins?.certificate(of: outcome.orchestrator),
            timeout: policy.attemptTimeout
        )
    }

    private func record(_ candidate: OrchestratorPool.Candidate, _ latency: Duration, _ outcome: String, _ pipeline: Pipeline) -> Attempt {
        record(candidate, latency, outcome, pipeline.rawValue)
    }

    private func record(_ candidate: OrchestratorPool.Candidate, _ latency: Duration, _ outcome: String, _ step: String) -> Attempt {
        let dimensions = [("orchestrator", candidate.address.description), ("pipeline", step), ("outcome", outcome)]
        Counter(label: "wharf_orchestrator_attempts_total", dimensions: dimensions, factory: metrics).increment()
        Metrics.Timer(label: "wharf_orchestrator_attempt_duration_seconds", dimensions: dimensions, factory: metrics)
            .recordNanoseconds(latency.components.seconds * 1_000_000_000 + latency.components.attoseconds / 1_000_000_000)
        return Attempt(orchestrator: candidate.address, latency: latency, outcome: outcome, price: candidate.price)
    }

    static func isCertificateFailure(_ error: any Error) -> Bool {
        NetworkFailure(error) == .tls(certificate: true)
    }

    /// Says why no orchestrator could take the step, naming the rule that excluded the most.
    public static func explain(_ decision: RoutingDecision, pipeline: Pipeline, model: String, constraints: RouteConstraints) -> String {
        let excluded = decision.excluded
        let step = "\(pipeline.rawValue) with model \(model)"
        if decision.offering == 0 {
            return "no orchestrator offers \(step)"
        }
        if excluded.region > 0, let regions = constraints.regions {
            let names = regions.sorted().joined(separator: ", ")
            return "no orchestrator in the regions this work is held to (\(names)) can take \(step) now; it is not sent elsewhere"
        }
        if excluded.policy > 0, excluded.policy >= excluded.total - excluded.tried - excluded.unavailable {
            return "no orchestrator your orchestrator policy allows can take \(step) now"
        }
        if excluded.price > 0 {
            return "no orchestrator offers \(step) under your price cap"
        }
        if excluded.payment > 0 {
            return "every orchestrator offering \(step) wants payment, and this gateway has no remote signer"
        }
        if excluded.capacity > 0 {
            return "every orchestrator offering \(step) is at capacity"
        }
        return "no orchestrator is available for \(pipeline.rawValue) right now"
    }
}
