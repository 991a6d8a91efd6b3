import ArgumentParser
import Foundation
import Logging
import Metrics
import WharfCore
import WharfDevnet
import WharfLivepeer
import WharfPlugins
import WharfPolicy
import WharfRouting
import WharfServer
import WharfStore
import WharfWorkflow

/// `wharf run`: runs a preset from the command line against the configured network (or an
/// in-process devnet) and saves its outputs. The v2 API will run the same presets over HTTP.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a preset from a plugin and save its outputs.",
        discussion: """
            The job is recorded in the store like any other, step by step: if this command is killed, \
            `wharf run --resume` (or a restarted `wharf serve`) finishes the job from its last finished step.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The preset, <plugin>.<name> (see wharf plugins list).") var preset: String?
    @Option(help: "The input file (a video, an audio file or an image).") var input: String?
    @Option(name: .customLong("param"), help: "A preset parameter, name=value (repeatable).") var parameters: [String] = []
    @Option(help: "Folder the outputs are written to (default ./wharf-output/<job id>).") var output: String?
    @Option(help: "The tenant the job belongs to (made when missing).") var tenant = "dev"
    @Option(help: "Run this many devnet orchestrators in this process and use them (0-16).") var devnet = 0
    @Flag(help: "Finish the preset jobs a previous run left unfinished instead of starting one.") var resume = false

    func validate() throws {
        guard resume || preset != nil else { throw ValidationError("name a preset, or pass --resume") }
        guard (0...16).contains(devnet) else { throw ValidationError("--devnet must be from 0 to 16") }
        for parameter in parameters where !parameter.contains("=") {
            throw ValidationError("--param takes name=value, got '\(parameter)'")
        }
    }

    func run() async throws {
        let configuration = try await options.loadConfiguration()
        bootstrapLogging(configuration)
        let logger = Logger(label: "wharf.run")
        let store = try await options.openStore(configuration)
        let catalog = await PluginCatalog.load(
            folder: configuration.pluginsDirectory,
            requireSignature: configuration.pluginsRequireSignature,
            publisherKeys: configuration.pluginPublisherKeys,
            isolation: configuration.pluginIsolation,
            logger: logger
        )
        defer { catalog.shutdown() }
        let network = try NetworkStack(configuration: configuration, metrics: NOOPMetricsHandler.instance)
        var runner = PresetRunner(
            store: store,
            router: network.router,
            plugins: catalog.plugins,
            defaultModel: { pipeline in await network.pool.mostOfferedModel(for: pipeline) },
            logger: logger
        )
        runner.maxCrashResumes = configuration.maxCrashResumes
        runner.stepCaps = configuration.makeStepCaps()
        runner.onEvent = { event in
            // Progress for people, on standard error; the outcome goes to standard output.
            let step = event.stepID.map { " \($0)" } ?? ""
            let attempt = event.attempt > 1 ? " (try \(event.attempt))" : ""
            printNote("\(event.kind.rawValue)\(step)\(attempt): \(event.detail)")
        }
        try await withLocalDevnet(devnet, network: network, configuration: configuration, logger: logger) {
            let jobs = try await resume ? resumeAll(runner, store, configuration: configuration) : [startOne(runner, store, configuration)]
            for job in jobs { try await report(job, store) }
            if jobs.contains(where: { $0.status != .succeeded }) { throw ExitCode(1) }
        }
    }

    private func startOne(
        _ runner: PresetRunner<AnyGatewayStore>,
        _ store: AnyGatewayStore,
        _ configuration: WharfConfiguration
    ) async throws -> Job {
        guard let preset else { throw ExitCode.validationFailure }
        guard runner.preset(named: preset) != nil else {
            printError("no preset named '\(preset)' among the plugins in the plugin folder (wharf plugins list)")
            throw ExitCode(1)
        }
        var owner = try await store.tenant(named: tenant)
        if owner == nil { owner = try await KeyManagement(store: store).createTenant(name: tenant) }
        guard let owner else { throw ExitCode(1) }
        var file: (data: Data, contentType: String, fileExtension: String)?
        if let input {
            guard let data = FileManager.default.contents(atPath: input) else {
                printError("cannot read \(input)")
                throw ExitCode(1)
            }
            let fileExtension = (input as NSString).pathExtension.lowercased()
            file = (data, Self.mediaType(fileExtension), fileExtension.isEmpty ? "bin" : fileExtension)
        }
        let values = Dictionary(parameters.map { ($0.split(separator: "=", maxSplits: 1).map(String.init)) }.map { ($0[0], $0[1]) }) {
            _,
            last in last
        }
        let lease = try commandLease(configuration)
        return try await failing {
            let job = try await runner.prepare(PresetJobRequest(preset: preset, parameters: values), tenantID: owner.id)
            // Claimed before it runs, so a gateway on the same store does not take it as abandoned.
            _ = try await store.claimJob(id: job.id, for: lease.identity, until: lease.expiry(), at: Date())
            if let file { try await runner.storeInput(file, of: job) }
            return try await holding([job.id], lease: lease, store: store) { try await runner.execute(job) }
        }
    }

    /// This command's claim on the jobs it runs: a holder of its own (a gateway on the same data
    /// folder releases its node's old leases when it starts, and must not release these), for
    /// `jobs.lease_seconds`, renewed while the command runs; a killed command's jobs are free again
    /// after it.
    private func commandLease(_ configuration: WharfConfiguration) throws -> LeaseHolder {
        let node = try NodeIdentity.load(dataDirectory: configuration.dataDirectory)
        return LeaseHolder(identity: "\(node)/run-\(ProcessInfo.processInfo.processIdentifier)", duration: configuration.jobLease)
    }

    /// Runs `body` while renewing the lease on `ids` every renewal period.
    private func holding<T: Sendable>(
        _ ids: [String],
        lease: LeaseHolder,
        store: AnyGatewayStore,
        _ body: () async throws -> T
    ) async throws -> T {
        let renewal = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: lease.renewal)
                _ = try? await store.renewJobLeases(ids: ids, for: lease.identity, until: lease.expiry())
            }
        }
        defer { renewal.cancel() }
        return try await body()
    }

    /// Runs the unfinished preset jobs no live node or command holds.
    private func resumeAll(
        _ runner: PresetRunner<AnyGatewayStore>,
        _ store: AnyGatewayStore,
        configuration: WharfConfiguration
    ) async throws -> [Job] {
        let lease = try commandLease(configuration)
        let claimed = try await store.claimUnfinishedJobs(
            kindPrefix: "preset:",
            for: lease.identity,
            until: lease.expiry(),
            at: Date(),
            limit: 10_000
        )
        let finished = try await holding(claimed.map(\.id), lease: lease, store: store) {
            var finished: [Job] = []
            for job in claimed { finished.append(try await runner.resume(job)) }
            return finished
        }
        if finished.isEmpty { printNote("no unfinished preset jobs") }
        return finished
    }

    /// Prints the job's outcome and writes its artifacts to the output folder.
    private func report(_ job: Job, _ store: AnyGatewayStore) async throws {
        printNow("job \(job.id) \(job.status.rawValue)")
        if let failure = job.result.flatMap({ try? JSONDecoder().decode(JobFailureResult.self, from: $0) }) { printError(failure.error) }
        let folder = output ?? "wharf-output/\(job.id)"
        let names = job.result.flatMap { try? JSONDecoder().decode(PresetJobResult.self, from: $0) }?.artifacts ?? []
        if !names.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        for name in names {
            guard let artifact = try await store.artifact(jobID: job.id, name: name) else { continue }
            let path = (folder as NSString).appendingPathComponent(name)
            try await store.blobs.copy(artifact.blob, to: path)
            printNow("  \(path)  \(artifact.artifact.contentType), \(artifact.artifact.byteCount) bytes")
        }
    }

    static func mediaType(_ fileExtension: String) -> String {
        [
            "mp4": "video/mp4", "mov": "video/quicktime", "mkv": "video/x-matroska", "webm": "video/webm", "ts": "video/mp2t",
            "wav": "audio/wav", "mp3": "audio/mpeg", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
        ][fileExtension] ?? "application/octet-stream"
    }
}
