public import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
public import ServiceLifecycle
import SwiftProtobuf
import Synchronization
import WharfCore
public import WharfLivepeer

/// One orchestrator on loopback that speaks the orchestrator side of the Livepeer protocol:
/// `GetOrchestrator` over gRPC/TLS with a certificate made at start-up, auth tokens that expire, and
/// the AI pipeline paths over HTTPS (answered by a reference runner), with faults to inject.
///
/// Upstream orchestrators serve gRPC and HTTP on one port; the devnet uses two (the gRPC port is the
/// orchestrator's address, the HTTP port is the `transcoder` URL it advertises), which a gateway cannot
/// tell apart. Run it as a `Service`; its address is known once it listens (``address()``).
public final class DevnetOrchestrator: Service, Sendable {
    /// What it sells.
    public let profile: DevnetOrchestratorProfile
    /// Its TLS identity, fresh for every instance (as after an orchestrator restart).
    public let identity: SelfSignedIdentity
    let tokens = AuthTokenIssuer()
    /// An ai-runner-compatible endpoint pipelines are forwarded to instead of the reference runner.
    public let runnerURL: URL?
    private let requestedPort: Int
    let requestedHTTPPort: Int
    let listening = Mutex<(ports: Ports?, waiters: [CheckedContinuation<Ports, any Error>])>((nil, []))
    let faults = Mutex(DevnetFaults())
    let runner = ReferenceRunner()
    private let counters = Mutex(Counters())
    /// The manifest ids of the last 100 pipeline requests, oldest first (what a gateway reveals).
    let manifestIDs = Mutex<[String]>([])

    /// What the orchestrator has been asked to do.
    struct Counters {
        var requests = 0
        /// Requests holding a capacity slot.
        var inFlight = 0
        /// Pipeline requests being handled, from arrival to answer (waiting out latency included).
        var active = 0
        /// The most `active` has been.
        var peakActive = 0
    }
    private let control = AsyncStream.makeStream(of: ControlEvent.self)

    /// What the fault machinery asks the serving loop to do.
    enum ControlEvent: Sendable {
        case crash
        case refuse(Duration)
        case shutdown
    }

    /// The two ports a devnet orchestrator listens on.
    public struct Ports: Sendable, Hashable {
        /// gRPC (`GetOrchestrator`): the orchestrator's address.
        public var grpc: Int
        /// HTTPS (AI pipelines, results): the advertised `transcoder` URL.
        public var http: Int
    }
    let logger: Logger

    /// - Parameters:
    ///   - profile: Prices, models, region, capacity, latency.
    ///   - port: The gRPC port on 127.0.0.1; 0 picks a free one.
    ///   - httpPort: The HTTPS port on 127.0.0.1; 0 picks a free one.
    ///   - runnerURL: When given, AI pipeline requests are forwarded to `<runnerURL>/<pipeline>` (a real
    ///     ai-runner or anything that speaks its API) and its answers relayed.
    public init(
        profile: DevnetOrchestratorProfile,
        port: Int = 0,
        httpPort: Int = 0,
        runnerURL: URL? = nil,
        logger: Logger = Logger(label: "wharf.devnet")
    ) throws {
        self.profile = profile
        self.runnerURL = runnerURL
        self.requestedPort = port
        self.requestedHTTPPort = httpPort
        self.identity = try SelfSignedIdentity.generate(commonName: profile.name)
        var logger = logger
        logger[metadataKey: "gw.devnet.orchestrator"] = .string(profile.name)
        self.logger = logger
    }

    /// `text` as a runner URL (absolute http or https with a host), or `nil`.
    public static func runnerURL(parsing text: String) -> URL? {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
            return nil
        }
        return url
    }

    /// The address gateways use for `GetOrchestrator`.
    public func address() async throws -> OrchestratorAddress {
        OrchestratorAddress(host: "127.0.0.1", port: try await ports().grpc)
    }

    /// Waits until both listeners are bound and returns their ports.
    public func ports() async throws -> Ports {
        try await withCheckedThrowingContinuation { continuation in
            let ports = listening.withLock { state -> Ports? in
                if let ports = state.ports { return ports }
                state.waiters.append(continuation)
                return nil
            }
            if let ports { continuation.resume(returning: ports) }
        }
    }

    /// The gateway address the last `GetOrchestrator` carried (empty offchain).
    public var lastRequesterAddress: Data { requesters.withLock { $0 } }
    let requesters = Mutex(Data())
    /// Payments received with jobs, decoded.
    public var paymentsReceived: Int { payments.withLock { $0 } }
    let payments = Mutex(0)

    /// The faults in force.
    public var currentFaults: DevnetFaults { faults.withLock { $0 } }

    /// Requests to pipeline paths so far.
    public var requestCount: Int { counters.withLock { $0.requests } }

    /// Changes the faults this orchestrator injects, effective for the next request. A
    /// `refuseConnectionsFor` period closes both listeners at once and opens them again after it.
    public func setFaults(_ update: (inout DevnetFaults) -> Void) {
        let refuse = faults.withLock { faults in
            let before = faults.refuseConnectionsFor
            update(&faults)
            return faults.refuseConnectionsFor > .zero && faults.refuseConnectionsFor != before ? faults.refuseConnectionsFor : nil
        }
        if let refuse { control.continuation.yield(.refuse(refuse)) }
    }

    public func run() async throws {
        var ports: Ports? = nil
        while true {
            switch try await serve(on: ports) {
            case .stopped:
                return
            case .refusing(let period, let bound):
                // Both listeners are closed: connections are refused until they open again.
                ports = bound
                logger.warning("devnet orchestrator refusing connections (fault injection)", metadata: ["gw.duration": "\(period)"])
                do {
                    try await withGracefulShutdownHandler {
                        try await Task.sleep(for: period)
                    } onGracefulShutdown: {
                        self.control.continuation.yield(.shutdown)
                    }
                } catch is CancellationError {
                    return
                }
                if Task.isCancelled || gracefulShutdownRequested { return }
                setFaults { $0.refuseConnectionsFor = .zero }
            }
        }
    }

    private var gracefulShutdownRequested: Bool {
        Task.isShuttingDownGracefully
    }

    /// How one round of serving ended.
    private enum RoundEnd {
        case stopped
        case refusing(Duration, Ports)
    }

    /// Serves both listeners (on `ports`, or the requested ones the first time) until graceful
    /// shutdown, a crash fault (thrown) or a refuse-connections fault.
    private func serve(on ports: Ports?) async throws -> RoundEnd {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: "127.0.0.1", port: ports?.grpc ?? requestedPort),
            transportSecurity: .tls(
                certificateChain: [.bytes(Array(identity.certificatePEM.utf8), format: .pem)],
                privateKey: .bytes(Array(identity.privateKeyPEM.utf8), format: .pem)
            )
        )
        let server = GRPCServer(transport: transport, services: [OrchestratorService(node: self)])
        let (httpPorts, httpPortContinuation) = AsyncStream.makeStream(of: Int.self)
        let http = try makeHTTPApplication(port: ports?.http ?? requestedHTTPPort) { port in httpPortContinuation.yield(port) }
        return try await withThrowingTaskGroup(of: RoundEnd?.self) { group in
            group.addTask {
                try await server.serve()
                return nil
            }
            group.addTask {
                try await http.run()
                return nil
            }
            group.addTask {
                try await withGracefulShutdownHandler {
                    for await event in self.control.stream {
                        switch event {
                        case .crash:
                            self.logger.warning("devnet orchestrator crashing (fault injection)")
                            throw DevnetCrash(name: self.profile.name)
                        case .refuse(let period):
                            // Let the reply to the control request leave first.
                            try await Task.sleep(for: .milliseconds(50))
                            let ports = try await self.ports()
                            return .refusing(period, ports)
                        case .shutdown:
                            return .stopped
                        }
                    }
                    return .stopped
                } onGracefulShutdown: {
                    self.control.continuation.yield(.shutdown)
                }
            }
            do {
                guard let grpcPort = try await transport.listeningAddress.ipv4?.port else {
                    throw WharfError(.invalidArgument, "devnet orchestrator \(profile.name) has no IPv4 address")
                }
                var iterator = httpPorts.makeAsyncIterator()
                guard let httpPort = await iterator.next() else { throw CancellationError() }
                let bound = Ports(grpc: grpcPort, http: httpPort)
                if ports == nil {
                    logger.info("devnet orchestrator listening", metadata: ["gw.port": "\(grpcPort)", "gw.http.port": "\(httpPort)"])
                    resumeWaiters(with: .success(bound))
                }
            } catch {
                resumeWaiters(with: .failure(error))
                throw error
            }
            // The control task decides how the round ends; then both listeners are closed. On graceful
            // shutdown the HTTP server closes itself (cancelling it as well would close it twice).
            while let finished = try await group.next() {
                guard let end = finished else { continue }
                server.beginGracefulShutdown()
                if case .stopped = end, Task.isShuttingDownGracefully {
                    while try await group.next() != nil {}
                } else {
                    group.cancelAll()
                }
                return end
            }
            return .stopped
        }
    }

    private func resumeWaiters(with result: Result<Ports, any Error>) {
        let waiters = listening.withLock { state in
            if case .success(let ports) = result { state.ports = ports }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    /// Counts a pipeline request and applies what comes before its work: an injected crash, the
    /// profile's network round trip, an injected tail or hang. Returns an error reply when the
    /// request must fail (``work()`` applies the rest once the request holds a capacity slot).
    func admit() async throws -> (status: Int, message: String)? {
        let (count, faults) = counters.withLock { counters in
            counters.requests += 1
            return (counters.requests, self.faults.withLock { $0 })
        }
        if let limit = faults.crashAfterRequests, count > limit {
            control.continuation.yield(.crash)
            try await Task.sleep(for: .seconds(3600))
        }
        if profile.roundTrip > .zero { try await Task.sleep(for: profile.roundTrip) }
        // Stalls on the way (a slow network, a pause) hold no slot.
        if faults.tailRate > 0, Double.random(in: 0..<1) < faults.tailRate {
            try await Task.sleep(for: faults.tailLatency)
        }
        if faults.hang { try await Task.sleep(for: .seconds(3600)) }
        return nil
    }

    /// The work of a pipeline request, which holds a capacity slot: the profile's latency and the
    /// injected latency, then injected errors. - Returns: An injected failure, or `nil`.
    func work() async throws -> (status: Int, message: String)? {
        let faults = self.faults.withLock { $0 }
        let latency = profile.latency + faults.addedLatency
        if latency > .zero { try await Task.sleep(for: latency) }
        if faults.errorRate > 0, Double.random(in: 0..<1) < faults.errorRate {
            return (500, "devnet fault: injected error")
        }
        return nil
    }

    /// Counts a pipeline request as being handled until `endRequest()`.
    func beginRequest() {
        counters.withLock { counters in
            counters.active += 1
            counters.peakActive = max(counters.peakActive, counters.active)
        }
    }

    func endRequest() {
        counters.withLock { $0.active -= 1 }
    }

    /// Pipeline requests so far, being handled now, and the most handled at once.
    public var statistics: (requests: Int, active: Int, peakActive: Int) {
        counters.withLock { ($0.requests, $0.active, $0.peakActive) }
    }

    /// Takes a capacity slot; `false` when the orchestrator is at capacity.
    func reserveCapacity() -> Bool {
        counters.withLock { counters in
            guard counters.inFlight < profile.capacity else { return false }
            counters.inFlight += 1
            return true
        }
    }

    func releaseCapacity() {
        counters.withLock { $0.inFlight -= 1 }
    }
}
