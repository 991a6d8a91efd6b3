import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import WharfCore
import WharfDevnet
import WharfLivepeer

/// `wharf devnet`: a local Livepeer network of devnet orchestrators.
struct Devnet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run devnet orchestrators on loopback until SIGTERM or SIGINT.",
        discussion: """
            Each orchestrator speaks the orchestrator side of the Livepeer protocol: GetOrchestrator over \
            gRPC/TLS with a certificate made at start-up, expiring auth tokens, and the AI pipeline paths over \
            HTTPS answered by a reference runner (deterministic, clearly labelled development output). Prices, \
            regions and latencies differ per orchestrator. Faults can be changed while it runs: \
            POST {"error_rate":0.5,"added_latency_ms":200,"tail_rate":0.1,"tail_latency_ms":2000,"hang":false,"crash_after_requests":10,\
            "expired_auth_tokens":false,"fail_get_orchestrator":false,"refuse_connections_ms":0,\
            "redirect_results_to":"http://…"} to https://127.0.0.1:<http port>/_devnet/faults; hostile ones: \
            "price_per_unit" and "pixels_per_unit" (advertised from the next GetOrchestrator), "pad_info_bytes", \
            "result_base_url" (off-origin result URLs), "result_copies", "result_bytes" (huge result files), \
            "answer_content_type", "drip_interval_ms" (one byte per interval), "endless_events" \
            (GET /_devnet/stats: requests, peak concurrency, the manifest ids seen). \
            Point a gateway at the printed addresses with network.orchestrators, or use `wharf serve --devnet N`.
            """
    )

    @Option(help: "How many orchestrators to run (1-16).") var orchestrators = 3
    @Option(help: "First gRPC port; orchestrator i uses base+2i (gRPC) and base+2i+1 (HTTPS). 0 picks free ports.")
    var basePort = 0
    @Flag(
        help:
            "On-chain mode: orchestrators ask for payment tickets, and a devnet remote signer (fake tickets, no key) runs for gateways to use."
    )
    var onChain = false
    @Option(help: "Pipeline requests each orchestrator works on at once (1-4096); more are refused with 503. Default 4.")
    var capacity: Int?
    @Option(
        help: "Where the gateway is (eu-west, us-east, ap-south): each orchestrator adds the simulated round trip from there to its region."
    )
    var gatewayRegion: String?
    @Option(help: "Forward AI pipelines to this ai-runner-compatible URL (POST <url>/<pipeline>) instead of the reference runner.")
    var runnerURL: String?

    func validate() throws {
        guard (1...16).contains(orchestrators) else { throw ValidationError("--orchestrators must be from 1 to 16") }
        guard basePort == 0 || (1...65_000).contains(basePort) else { throw ValidationError("--base-port must be from 1 to 65000") }
        if let capacity, !(1...4096).contains(capacity) { throw ValidationError("--capacity must be from 1 to 4096") }
        if let runnerURL, DevnetOrchestrator.runnerURL(parsing: runnerURL) == nil {
            throw ValidationError("--runner-url must be an http(s) URL, got '\(runnerURL)'")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "wharf.devnet")
        let nodes = try DevnetOrchestratorProfile.spread(count: orchestrators, gatewayRegion: gatewayRegion).enumerated().map {
            index,
            spread in
            var profile = spread
            profile.requiresPayment = onChain
            if let capacity { profile.capacity = capacity }
            return try DevnetOrchestrator(
                profile: profile,
                port: basePort == 0 ? 0 : basePort + 2 * index,
                httpPort: basePort == 0 ? 0 : basePort + 2 * index + 1,
                runnerURL: runnerURL.flatMap(DevnetOrchestrator.runnerURL(parsing:)),
                logger: logger
            )
        }
        let signer = onChain ? DevnetRemoteSigner(port: basePort == 0 ? 0 : basePort + 2 * orchestrators, logger: logger) : nil
        let services: [any Service] = nodes + (signer.map { [$0] } ?? [])
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var lines: [String] = []
            for node in nodes {
                let ports = try await node.ports()
                let prices = node.profile.prices.sorted { $0.key.capabilityID < $1.key.capabilityID }
                    .map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: " ")
                lines.append(
                    "\(node.profile.name)  127.0.0.1:\(ports.grpc)  region=\(node.profile.region)  "
                        + "faults=https://127.0.0.1:\(ports.http)/_devnet/faults  wei/unit: \(prices)"
                )
            }
            printNow(lines.joined(separator: "\n"))
            printNow("network.orchestrators: " + (try await addresses(nodes)).joined(separator: ","))
            if let signer { printNow("network.remote_signer_url: http://127.0.0.1:\(await signer.port())") }
            try await tasks.next()
        }
    }

    private func addresses(_ nodes: [DevnetOrchestrator]) async throws -> [String] {
        var result: [String] = []
        for node in nodes { result.append(try await node.address().description) }
        return result
    }
}
