import CoreMetrics
import Foundation
import Logging
import NIOHTTP1
import Testing
import WharfCore
import WharfLivepeer
import WharfMedia
import WharfModel
import WharfPlugins
import WharfPolicy
import WharfRouting
import WharfStore

@testable import WharfWorkflow

/// Presets from real plugin libraries run end to end by `wharf run`: real ffmpeg, the devnet for the
/// network step, the plugin's code step through the C ABI; and a job killed with SIGKILL mid-way
/// finishes after a restart without running a finished step again.
@Suite(.layer(.endToEnd), .needs("ffmpeg"), .serialized, .timeLimit(.minutes(3))) struct PresetTests {
    /// A folder with the example plugins installed and a three-second test clip with sound.
    static func workspace() async throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        let plugins = directory.file("plugins")
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        let template = try PluginTests.templateLibrary
        let folder = (template as NSString).deletingLastPathComponent
        for library in ["libWharfTemplatePlugin.so", "libWharfVideoCaptionsPlugin.so", "libWharfThumbnailStudioPlugin.so"] {
            try FileManager.default.copyItem(atPath: folder + "/" + library, toPath: plugins + "/" + library)
        }
        try await runFFmpeg([
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=3", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
            "-c:v", "libx264", "-c:a", "aac", "-shortest", directory.file("clip.mp4"),
        ])
        return directory
    }

    @Test func theCaptionsPresetRunsEndToEnd() async throws {
        let directory = try await Self.workspace()
        let environment = ["WHARF_PLUGINS_DIRECTORY": directory.file("plugins")]
        let run = try await WharfProcess.run(
            ["run", "captions.burn-in", "--input", "clip.mp4", "--devnet", "2", "--output", "out"],
            in: directory.path,
            environment: environment
        )
        #expect(run.status == 0, "\(run.standardOutput)\(run.standardError)")
        #expect(run.standardOutput.contains("succeeded"))
        // Progress, step by step, on standard error.
        for line in ["step.started audio: media extract-audio", "step.finished transcript:", "job.finished: succeeded"] {
            #expect(run.standardError.contains(line), "\(run.standardError)")
        }
        let subtitles = try String(contentsOfFile: directory.file("out/subtitles-subtitles.vtt"), encoding: .utf8)
        #expect(subtitles.hasPrefix("WEBVTT\n\n00:00:00.000 --> "))
        #expect(subtitles.contains("reference output"))
        let srt = try String(contentsOfFile: directory.file("out/subtitles-subtitles.srt"), encoding: .utf8)
        #expect(srt.hasPrefix("1\n00:00:00,000 --> "))
        let probe = try await runProcess(
            "ffprobe",
            ["-v", "error", "-show_entries", "stream=codec_name,width", "-of", "csv=p=0", directory.file("out/video-captioned.mp4")]
        )
        #expect(probe.contains("h264,320"))

        // Bad input is a clear step failure, not a hang.
        _ = try directory.write("notvideo.mp4", "this is not a video")
        let bad = try await WharfProcess.run(
            ["run", "captions.burn-in", "--input", "notvideo.mp4", "--devnet", "1"],
            in: directory.path,
            environment: environment
        )
        #expect(bad.status == 1)
        #expect(bad.standardError.contains("step audio failed") && bad.standardError.contains("ffmpeg failed"), "\(bad.standardError)")
        let unknown = try await WharfProcess.run(["run", "captions.nope", "--devnet", "1"], in: directory.path, environment: environment)
        #expect(unknown.standardError.contains("no preset named 'captions.nope'"))
        let badParameter = try await WharfProcess.run(
            ["run", "captions.burn-in", "--input", "clip.mp4", "--param", "colour=red", "--devnet", "1"],
            in: directory.path,
            environment: environment
        )
        #expect(badParameter.standardError.contains("unknown parameter 'colour'"))
    }

    @Test func theThumbnailsPresetMakesAPosterASheetAndADescription() async throws {
        let directory = try await Self.workspace()
        let run = try await WharfProcess.run(
            [
                "run", "thumbnails.poster", "--input", "clip.mp4", "--param", "at=1.5", "--param", "prompt=crisp", "--devnet", "2",
                "--output", "out",
            ],
            in: directory.path,
            environment: ["WHARF_PLUGINS_DIRECTORY": directory.file("plugins")]
        )
        #expect(run.status == 0, "\(run.standardOutput)\(run.standardError)")
        let description = try Data(contentsOf: URL(fileURLWithPath: directory.file("out/describe-thumbnails.json")))
        let images = try #require((try JSONSerialization.jsonObject(with: description) as? [String: Any])?["images"] as? [[String: Any]])
        let roles = Dictionary(uniqueKeysWithValues: images.compactMap { image in (image["role"] as? String).map { ($0, image) } })
        #expect(roles["frame"]?["width"] as? Int == 512)
        #expect(roles["poster"] != nil)
        // Nine 320-pixel tiles in a 3×3 grid.
        #expect(roles["contact-sheet"]?["width"] as? Int == 960)
        #expect(FileManager.default.fileExists(atPath: directory.file("out/sheet-sheet.png")))
    }

    @Test func presetsWhoseStepsDoNotFitAreRefusedBeforeAnyWork() throws {
        func preset(_ steps: [(String, String, String, [String])]) throws -> PluginManifest.Preset {
            let encoded = steps.map { #"{"id":"\#($0.0)","kind":"\#($0.1)","uses":"\#($0.2)","after":\#($0.3)}"# }
            let manifest =
                #"{"name":"x","version":"1.0.0","description":"","presets":[{"name":"x.p","description":"","parameters":"{\"type\":\"object\"}","steps":[\#(encoded.joined(separator: ","))]}],"code_steps":[]}"#
            return try PluginManifest.parse(Data(manifest.utf8)).presets[0]
        }
        let frameToText = try preset([("frame", "media", "extract-frame", []), ("words", "network", "audio-to-text", ["frame"])])
        let mismatch = #expect(throws: WharfError.self) { try PresetCheck.validate(frameToText) }
        #expect(mismatch?.message == "preset x.p: step words (audio-to-text) takes audio or video, but step frame makes image")
        let unknown = try preset([("a", "media", "sharpen", [])])
        #expect(
            #expect(throws: WharfError.self) { try PresetCheck.validate(unknown) }?.message.contains("unknown media operation 'sharpen'")
                == true
        )
        try PresetCheck.validate(try preset([("audio", "media", "extract-audio", []), ("words", "network", "audio-to-text", ["audio"])]))
    }

    @Test func muxReplacesTheSoundTrack() async throws {
        let directory = try TemporaryDirectory()
        try await runFFmpeg([
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2", "-c:v", "libx264", directory.file("silent.mp4"),
        ])
        try await runFFmpeg(["-f", "lavfi", "-i", "sine=frequency=300:duration=3", directory.file("tone.wav")])
        let output = URL(fileURLWithPath: directory.file("muxed.mp4"))
        let media = MediaTools()
        try await media.mux(
            video: URL(fileURLWithPath: directory.file("silent.mp4")),
            audio: URL(fileURLWithPath: directory.file("tone.wav")),
            to: output
        )
        let probe = try await media.probe(output)
        #expect(probe.hasVideo && probe.hasAudio && probe.audioCodec == "aac")
        #expect(probe.durationSeconds < 2.6)
        let notMedia = try directory.write("text.mp4", "hello")
        let error = await #expect(throws: WharfError.self) { try await media.probe(URL(fileURLWithPath: notMedia)) }
        #expect(error?.message.contains("ffprobe failed") == true)
    }

    @Test func aStepInterruptedAfterStoringAnArtifactRunsAgainCleanly() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.file("wharf.sqlite"))
        _ = try await store.migrate()
        let tenant = try await KeyManagement(store: store).createTenant(name: "acme")
        // The step runs in a plugin host process, as the gateway runs it by default.
        let plugin = try await Plugin.load(
            try PluginImage.read(try PluginTests.templateLibrary, publisherKeys: []),
            isolation: PluginTests.isolation(directory),
            logger: Logger(label: "test")
        )
        defer { plugin.shutdown() }
        let pool = OrchestratorPool(client: OrchestratorClient(trust: .firstUse(CertificatePins())), policy: RoutingPolicy())
        let router = PipelineRouter(
            pool: pool,
            jobs: AIJobClient(http: AIJobClient.orchestratorHTTP),
            pins: nil,
            policy: RoutingPolicy(),
            metrics: NOOPMetricsHandler.instance
        )
        let runner = PresetRunner(
            store: store,
            router: router,
            plugins: [plugin],
            defaultModel: { _ in nil },
            logger: Logger(label: "test")
        )
        // A gateway died while the greet step ran, after it had stored its artifact.
        var job = Job(
            tenantID: tenant.id,
            kind: "preset:template.greet",
            request: Data(#"{"parameters":{"name":"Ada"},"preset":"template.greet"}"#.utf8)
        )
        job.status = .running
        try await store.insertJob(job)
        _ = try await store.putArtifact(jobID: job.id, name: "greet-greeting.txt", contentType: "text/plain", data: Data("half".utf8))
        try await store.saveStep(
            JobStep(jobID: job.id, stepID: "greet", status: .running, output: nil, artifacts: [], attempts: 1, updatedAt: Date())
        )

        let finished = try await runner.resume(job)
        #expect(finished.status == .succeeded, "\(String(decoding: finished.result ?? Data(), as: UTF8.self))")
        let greeting = try #require(try await store.artifact(jobID: job.id, name: "greet-greeting.txt"))
        #expect(try await store.blobs.data(of: greeting.blob, limit: 1024) == Data("Hello, Ada, from a Wharf plugin.".utf8))
        #expect(try await store.steps(jobID: job.id).map(\.attempts) == [2])
    }

    /// An `ffmpeg` on the PATH that counts the copies of itself running at once (under a lock) and
    /// stays a moment, then runs the real one. - Returns: The folder to put first on the PATH and the
    /// file its peak is written to.
    static func countingFFmpeg(in directory: TemporaryDirectory) throws -> (bin: String, peak: String) {
        let bin = directory.file("counting-bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let real = try #require(
            (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/ffmpeg" }
                .first { FileManager.default.isExecutableFile(atPath: $0) }
        )
        let state = directory.file("ffmpeg-count")
        let script = """
            #!/bin/sh
            exec 9>"\(state).lock"
            flock 9
            now=$(( $(cat "\(state).now" 2>/dev/null || echo 0) + 1 )); echo $now >"\(state).now"
            [ $now -gt $(cat "\(state).peak" 2>/dev/null || echo 0) ] && echo $now >"\(state).peak"
            flock -u 9
            sleep 0.4
            "\(real)" "$@"; status=$?
            flock 9
            echo $(( $(cat "\(state).now") - 1 )) >"\(state).now"
            flock -u 9
            exit $status
            """
        let path = bin + "/ffmpeg"
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return (bin, state + ".peak")
    }

    /// Six `thumbnails.poster` jobs at once (two ffmpeg steps each) on a gateway capped at one media
    /// step, then on one capped at four: the first never runs two ffmpeg at once and finishes every
    /// job; the second does run several (so the count can see concurrency).
    @Test(arguments: [1, 4])
    func mediaStepsRunAtMostTheConfiguredNumberAtOnce(cap: Int) async throws {
        let directory = try await Self.workspace()
        let ffmpeg = try Self.countingFFmpeg(in: directory)
        let gateway = try await ServedGateway(
            environment: [
                "WHARF_PLUGINS_DIRECTORY": directory.file("plugins"),
                "WHARF_JOBS_MAX_CONCURRENT_MEDIA_STEPS": "\(cap)",
                "PATH": ffmpeg.bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            ],
            devnet: 2,
            orchestrators: 2,
            in: directory
        )
        defer { gateway.stop() }
        let clip = try Data(contentsOf: URL(fileURLWithPath: directory.file("clip.mp4")))
        let uploaded = try await gateway.send(.POST, "/v2/files", body: clip, contentType: "video/mp4")
        #expect(uploaded.status == 201)
        let file = try #require(try V2JobsTests.json(uploaded.body)["id"] as? String)
        let request = try V2JobsTests.body([
            "preset": "thumbnails.poster", "input": ["file": file], "parameters": ["at": "1", "prompt": "crisp"],
        ])
        let statuses = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    let answer = try await gateway.send(
                        .POST,
                        "/v2/jobs",
                        body: request,
                        contentType: "application/json",
                        headers: [("Prefer", "wait=60")]
                    )
                    return try V2JobsTests.json(answer.body)["status"] as? String ?? "(\(answer.status))"
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: "succeeded", count: 6))
        let peak = Int((try String(contentsOfFile: ffmpeg.peak, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))
        if cap == 1 {
            #expect(peak == 1)
        } else {
            #expect((peak ?? 0) > 1, "the count saw \(peak ?? 0) at once with a cap of \(cap)")
        }
    }

    @Test func aPresetsTimeLimitIsBoundedWhateverItsManifestSays() {
        typealias Runner = PresetRunner<SQLiteStore>
        #expect(Runner.timeLimit("1e300") == .seconds(86_400))
        #expect(Runner.timeLimit("-5") == .milliseconds(100))
        #expect(Runner.timeLimit("2.5") == .milliseconds(2500))
        for nonsense in ["inf", "-inf", "nan", "", "ten", nil] { #expect(Runner.timeLimit(nonsense) == nil) }
    }

    @Test func aStepThatRunsTooLongIsStopped() async throws {
        let start = ContinuousClock.now
        let error = await #expect(throws: StepTimedOut.self) {
            try await PresetRunner<SQLiteStore>.within(.milliseconds(200), step: "slow") {
                try await Task.sleep(for: .seconds(30))
                return 1
            }
        }
        #expect(error?.description == "step slow did not finish within 0.2 seconds")
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func aKilledJobFinishesAfterARestartWithoutRepeatingFinishedSteps() async throws {
        let directory = try await Self.workspace()
        // A devnet in its own process, so that its transcriptions can be slowed down.
        let devnet = try await WharfProcess.start(["devnet", "--orchestrators", "1"], in: directory.path)
        defer { devnet.signal() }
        _ = try await devnet.line(on: .output) { $0.hasPrefix("network.orchestrators: ") }
        let printed = devnet.printed(on: .output)
        let orchestrators = try #require(printed.split(separator: "\n").first { $0.hasPrefix("network.orchestrators: ") })
            .dropFirst("network.orchestrators: ".count)
        let faults = try #require(printed.split(separator: " ").first { $0.hasPrefix("faults=") }).dropFirst("faults=".count)
        try await postDevnetFaults(#"{"added_latency_ms":3000}"#, to: String(faults))

        // The killed command's claim on the job lapses after the lease.
        let environment = [
            "WHARF_PLUGINS_DIRECTORY": directory.file("plugins"), "WHARF_NETWORK_ORCHESTRATORS": String(orchestrators),
            "WHARF_JOBS_LEASE_SECONDS": "3",
        ]
        let first = try await WharfProcess.start(
            ["run", "captions.burn-in", "--input", "clip.mp4"],
            in: directory.path,
            environment: environment
        )
        let database = directory.file(".wharf/wharf.sqlite")
        var state = ""
        for _ in 0..<100 where !state.contains("audio=succeeded") || !state.contains("transcript=running") {
            try await Task.sleep(for: .milliseconds(100))
            state = (try? await runSQLite(database, "SELECT step_id || '=' || status FROM job_steps")) ?? ""
        }
        #expect(state.contains("audio=succeeded") && state.contains("transcript=running"), "\(state)")
        first.signal(SIGKILL)
        #expect(try await first.waitForExit() == 128 + SIGKILL)

        try await postDevnetFaults(#"{"added_latency_ms":0}"#, to: String(faults))
        // The restarted gateway finishes the job on its own.
        let gateway = try await ServedGateway(environment: environment, devnet: 0, orchestrators: 1, in: directory)
        defer { gateway.stop() }
        var status = ""
        for _ in 0..<200 where status != "succeeded" {
            try await Task.sleep(for: .milliseconds(100))
            status = (try? await runSQLite(database, "SELECT status FROM jobs"))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        }
        #expect(status == "succeeded")
        let attempts = try await runSQLite(database, "SELECT step_id || '=' || attempts || ':' || status FROM job_steps ORDER BY id")
        #expect(
            attempts.split(separator: "\n") == [
                "audio=1:succeeded", "transcript=2:succeeded", "subtitles=1:succeeded", "video=1:succeeded",
            ]
        )
        let captioned = try await runSQLite(database, "SELECT byte_count > 1000 FROM artifacts WHERE name = 'video-captioned.mp4'")
        #expect(captioned.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let nothingLeft = try await WharfProcess.run(["run", "--resume"], in: directory.path, environment: environment)
        #expect(nothingLeft.standardError.contains("no unfinished preset jobs"))
    }

    @Test func aStepThatKillsItsGatewayIsResumedAtMostMaxCrashResumesTimes() async throws {
        let directory = try await Self.workspace()
        // A test-only fault of the debug build: the process kills itself when the greet step starts.
        let environment = [
            "WHARF_PLUGINS_DIRECTORY": directory.file("plugins"), "WHARF_TEST_KILL_IN_STEP": "greet", "WHARF_JOBS_MAX_CRASH_RESUMES": "2",
            "WHARF_JOBS_LEASE_SECONDS": "5",
        ]
        // A killed command's claim on the job lapses after the lease.
        func afterTheLease() async throws { try await Task.sleep(for: .milliseconds(5200)) }
        let first = try await WharfProcess.run(
            ["run", "template.greet", "--param", "name=Ada"],
            in: directory.path,
            environment: environment
        )
        #expect(first.status == 128 + SIGKILL, "\(first.standardError)")
        // Resumed twice, and each time the step takes the process down again.
        let early = try await WharfProcess.run(["run", "--resume"], in: directory.path, environment: environment)
        #expect(early.standardError.contains("no unfinished preset jobs"), "the dead command's lease holds the job until it lapses")
        for _ in 0..<2 {
            try await afterTheLease()
            let resumed = try await WharfProcess.run(["run", "--resume"], in: directory.path, environment: environment)
            #expect(resumed.status == 128 + SIGKILL, "\(resumed.standardError)")
        }
        // The third time, the job fails instead of being run.
        try await afterTheLease()
        let last = try await WharfProcess.run(["run", "--resume"], in: directory.path, environment: environment)
        #expect(last.status == 1)
        #expect(last.standardError.contains("step greet failed: the gateway stopped 3 times while this step ran"), "\(last.standardError)")
        let database = directory.file(".wharf/wharf.sqlite")
        let step = try await runSQLite(database, "SELECT attempts || ':' || interruptions || ':' || status FROM job_steps")
        #expect(step.trimmingCharacters(in: .whitespacesAndNewlines) == "3:3:failed")
        let job = try await runSQLite(database, "SELECT status FROM jobs")
        #expect(job.trimmingCharacters(in: .whitespacesAndNewlines) == "failed")
        let nothingLeft = try await WharfProcess.run(["run", "--resume"], in: directory.path, environment: environment)
        #expect(nothingLeft.standardError.contains("no unfinished preset jobs"))
    }

    /// Starts a one-step preset job on a gateway whose orchestrators answer after `latency`, and
    /// waits until it runs. - Returns: The job's id and the gateway's database.
    static func startSlowJob(on gateway: ServedGateway, latency: Duration) async throws -> (id: String, database: String) {
        let milliseconds = latency.components.seconds * 1000 + latency.components.attoseconds / 1_000_000_000_000_000
        for url in try await gateway.orchestratorURLs() {
            try await gateway.setFaults(#"{"added_latency_ms": \#(milliseconds)}"#, at: url)
        }
        let created = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: Data(#"{"preset":"pipeline.text-to-image","parameters":{"prompt":"a harbour at dusk"}}"#.utf8),
            contentType: "application/json"
        )
        #expect(created.status == 202, "\(String(decoding: created.body, as: UTF8.self))")
        let id = try #require((try JSONSerialization.jsonObject(with: created.body) as? [String: Any])?["id"] as? String)
        let database = gateway.directory.file(".wharf/wharf.sqlite")
        var status = ""
        for _ in 0..<50 where status != "running" {
            try await Task.sleep(for: .milliseconds(50))
            let answer = try? await runSQLite(database, "SELECT status FROM jobs WHERE id = '\(id)'")
            status = answer?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        }
        #expect(status == "running")
        return (id, database)
    }

    @Test func aJobRunningAtShutdownFinishesBeforeTheGatewayExits() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let (_, database) = try await Self.startSlowJob(on: gateway, latency: .milliseconds(1500))
        // SIGTERM while the orchestrator is still working: the gateway waits for the job.
        #expect(try await gateway.stopAndWait() == 0)
        let finished = try await runSQLite(database, "SELECT status FROM jobs")
        #expect(finished.trimmingCharacters(in: .whitespacesAndNewlines) == "succeeded")
    }

    @Test func aJobCanceledThroughAnotherNodeStopsWhereItRuns() async throws {
        // Leases of 3 s, renewed every second; the orchestrator takes 4 s to answer.
        let gateway = try await ServedGateway(environment: ["WHARF_JOBS_LEASE_SECONDS": "3"], devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let (id, database) = try await Self.startSlowJob(on: gateway, latency: .seconds(4))

        // Another node sharing the store cancels it: that node records the end, as its API does.
        let otherNode = try SQLiteStore(path: database)
        _ = try await otherNode.updateJob(id: id, status: .canceled, result: JobFailureResult("the job was canceled").encoded, at: Date())

        // Past the time the orchestrator would have answered: the node running it stopped it at its
        // next renewal, so the step never finished and nothing was charged.
        try await Task.sleep(for: .seconds(6))
        let succeededSteps = try await runSQLite(database, "SELECT count(*) FROM job_steps WHERE job_id = '\(id)' AND status = 'succeeded'")
        #expect(succeededSteps.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        let charges = try await runSQLite(database, "SELECT count(*) FROM spend WHERE job_id = '\(id)'")
        #expect(charges.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        let job = try await gateway.send(.GET, "/v2/jobs/\(id)")
        #expect((try JSONSerialization.jsonObject(with: job.body) as? [String: Any])?["status"] as? String == "canceled")
    }
}
