public import Foundation
public import Metrics
public import WharfCore
public import WharfLivepeer

/// Runs one AI pipeline request on the network: picks candidates from the pool, sends the request,
/// and on a retryable failure tries a *different* orchestrator, within a per-attempt timeout and an
/// overall deadline. Every attempt is recorded and counted in metrics.
public struct PipelineRouter: Sendable {
    /// One try on one orchestrator.
    public struct Attempt: Sendable, Hashable {
        public var orchestrator: OrchestratorAddress
        public var latency: Duration
        /// `ok`, `timeout`, `connection refused`, `http 503`, `auth token refreshed`, …
        public var outcome: String
        public var price: OrchestratorOffer.Price
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
    }

    /// Runs `request` for `model`, on orchestrators at or under `priceCap` and in `region` when given.
    /// - Throws: ``RoutingError`` when no orchestrator completes it.
    /// The lowest price on offer now for `pipeline` and `model`, per unit of work.
    public func lowestPrice(for pipeline: Pipeline, model: String?) async -> OrchestratorOffer.Price? {
        await pool.lowestPrice(for: pipeline, model: model)
    }

    /// - Parameter seed: Makes the choice among equally good orchestrators repeatable (the
    ///   `balanced` strategy's draw); `nil` draws from the system generator.
    public func run(
        _ request: AIJobClient.Request,
        model: String,
        priceCap: OrchestratorOffer.Price?,
        region: String? = nil,
        seed: UInt64? = nil
    ) async throws -> Outcome {
        let clock = ContinuousClock()
        let deadline = clock.now + policy.deadline
        var attempts: [Attempt] = []
        var tried: Set<OrchestratorAddress> = []
        var generator = RoutingRandom(seed: seed)
        while tried.count < policy.maxAttempts, clock.now < deadline {
            let (next, exclusions) = await pool.pick(
                for: request.pipeline,
                model: model,
                priceCap: priceCap,
                region: region,
                excluding: tried,
                canPay: signer != nil,
                using: &generator
            )
            guard let candidate = next else {
                if attempts.isEmpty {
                    throw RoutingError(
                        kind: .noOrchestrator,
                        message: Self.explain(exclusions, pipeline: request.pipeline, model: model, region: region),
                        attempts: attempts
                    )
                }
                break
            }
            tried.insert(candidate.address)
            var offer = candidate.offer
            var price = candidate.price
            var refreshedToken = false
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
                    price = try Self.usablePrice(offer.price(for: request.pipeline, model: model), units: request.units, cap: priceCap)
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
                        var done = record(candidate, latency, "ok", request.pipeline)
                        done.price = price
                        attempts.append(done)
                        return Outcome(response: response, orchestrator: candidate.address, offer: offer, price: price, attempts: attempts)
                    }
                    let text = String(decoding: response.body.prefix(200), as: UTF8.self)
                    if response.status == 403, text.contains("auth token"), !refreshedToken {
                        // The orchestrator no longer accepts the token (expired, or it restarted): get a
                        // new one with GetOrchestrator and try the same orchestrator once more.
                        attempts.append(record(candidate, latency, "auth token refused", request.pipeline))
                        offer = try await pool.refreshOffer(candidate.address)
                        refreshedToken = true
                        continue
                    }
                    if [400, 413, 415, 422].contains(response.status) {
                        attempts.append(record(candidate, latency, "http \(response.status)", request.pipeline))
                        throw RoutingError(
                            kind: .rejected(status: response.status),
                            message: "the orchestrator rejected the request (\(response.status)): \(text)",
                            attempts: attempts
                        )
                    }
                    outcome = "http \(response.status)"
                } catch let error as RoutingError {
                    throw error
                } catch let refused as UnusablePrice {
                    // Its price, not its health: try another orchestrator without holding this against it.
                    attempts.append(record(candidate, clock.now - start, refused.reason, request.pipeline))
                    break
                } catch RemoteSigner.Failure.refreshOrchestrator where !refreshedToken {
                    // The signer wants fresh orchestrator info: get it and pay again, once.
                    attempts.append(record(candidate, clock.now - start, "payment refresh", request.pipeline))
                    refreshedToken = true
                    if let refreshed = try? await pool.refreshOffer(candidate.address) {
                        offer = refreshed
                        continue
                    }
                    outcome = "payment failed"
                } catch let failure as RemoteSigner.Failure {
                    // Not the orchestrator's fault: try another one without counting it against this one.
                    let reason = failure == .priceExceeded ? "price over the signer's maximum" : "payment failed"
                    attempts.append(record(candidate, clock.now - start, reason, request.pipeline))
                    break
                } catch {
                    if !refreshedToken, Self.isCertificateFailure(error) {
                        // A pinned orchestrator restarted with a new certificate: probe it again, which
                        // pins the new certificate and fetches a new token, then retry it once.
                        attempts.append(record(candidate, clock.now - start, "certificate changed", request.pipeline))
                        refreshedToken = true
                        if let refreshed = try? await pool.refreshOffer(candidate.address) {
                            offer = refreshed
                            continue
                        }
                        await pool.recordFailure(candidate.address, reason: "certificate changed")
                        break
                    }
                    outcome = clock.now >= start + min(policy.attemptTimeout, remaining) ? "timeout" : OrchestratorPool.describe(error)
                }
                attempts.append(record(candidate, clock.now - start, outcome, request.pipeline))
                await pool.recordFailure(candidate.address, reason: outcome)
                break
            }
        }
        let summary = attempts.map(\.outcome).joined(separator: ", ")
        let count = Set(attempts.map(\.orchestrator)).count
        throw RoutingError(
            kind: .allAttemptsFailed,
            message: clock.now >= deadline && attempts.isEmpty
                ? "no orchestrator answered before the deadline"
                : "\(count) orchestrator\(count == 1 ? "" : "s") failed: \(summary)",
            attempts: attempts
        )
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
            let (next, exclusions) = await pool.pickTranscoder(
                priceCap: priceCap,
                region: region,
                excluding: tried,
                canPay: signer != nil,
                using: &generator
            )
            guard let candidate = next else {
                if attempts.isEmpty {
                    throw RoutingError(
                        kind: .noOrchestrator,
                        message: exclusions.overPriceCap > 0
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

    /// Says why no orchestrator could take the step, naming the reason that excluded the most.
    static func explain(_ exclusions: OrchestratorPool.Exclusions, pipeline: Pipeline, model: String, region: String?) -> String {
        if exclusions.overPriceCap > 0 {
            return "no orchestrator offers \(pipeline.rawValue) with model \(model) under your price cap"
        }
        if exclusions.otherRegion > 0, let region {
            return "no orchestrator in region \(region) offers \(pipeline.rawValue) with model \(model)"
        }
        if exclusions.needsPayment > 0 {
            return
                "every orchestrator offering \(pipeline.rawValue) with model \(model) wants payment, and this gateway has no remote signer"
        }
        if exclusions.noCapacity > 0 {
            return "every orchestrator offering \(pipeline.rawValue) with model \(model) is at capacity"
        }
        if exclusions.notOffering > 0 {
            return "no orchestrator offers \(pipeline.rawValue) with model \(model)"
        }
        return "no orchestrator is available for \(pipeline.rawValue) right now"
    }
}
