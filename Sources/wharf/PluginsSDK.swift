import ArgumentParser
import Crypto
import Foundation
import Logging
import Metrics
import WharfCore
import WharfMedia
import WharfModel
import WharfPlugins
import WharfPolicy
import WharfRouting
import WharfServer
import WharfStore
import WharfWorkflow

/// `wharf plugins keygen`: a publisher's Ed25519 key pair for signing plugins.
struct PluginsKeygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make an Ed25519 key pair for signing plugins.",
        discussion: """
            Writes the private key (base64 of its 32 raw bytes) to FILE, readable by you only, and prints \
            the public key: the value operators add to plugins.publisher_keys.
            """
    )

    @Option(help: "Where to write the private key (must not exist).") var key: String

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: key) else {
            printError("\(key) already exists; keys are not overwritten")
            throw ExitCode(1)
        }
        let privateKey = Curve25519.Signing.PrivateKey()
        let created = FileManager.default.createFile(
            atPath: key,
            contents: Data((privateKey.rawRepresentation.base64EncodedString() + "\n").utf8),
            attributes: [.posixPermissions: 0o600]
        )
        guard created else {
            printError("cannot write \(key)")
            throw ExitCode(1)
        }
        printNote("private key written to \(key); keep it secret")
        printNow(privateKey.publicKey.rawRepresentation.base64EncodedString())
    }
}

/// `wharf plugins sign`: signs a plugin library as the gateway verifies it.
struct PluginsSign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign a plugin library with a key from wharf plugins keygen.",
        discussion: "Writes <file>.sig next to the library and prints the public key that verifies it."
    )

    @Option(help: "The private key file (from wharf plugins keygen).") var key: String
    @Argument(help: "The plugin library (.so).") var file: String

    func run() async throws {
        // A key file is 45 bytes; no more than a kilobyte of whatever the path names is read.
        let handle = FileHandle(forReadingAtPath: key)
        defer { try? handle?.close() }
        guard let bytes = try? handle?.read(upToCount: 1024), case let text = String(decoding: bytes, as: UTF8.self),
            let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
            let privateKey = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        else {
            printError("\(key) is not a key from wharf plugins keygen")
            throw ExitCode(1)
        }
        let image: PluginImage
        do {
            image = try PluginImage.read(file, publisherKeys: [])
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        defer { image.close() }
        // The bytes signed are the sealed copy, exactly what a gateway will verify and load.
        let signature = try image.withBytes { try privateKey.signature(for: $0) }
        try (signature.base64EncodedString() + "\n").write(toFile: file + ".sig", atomically: true, encoding: .utf8)
        let publicKey = privateKey.publicKey.rawRepresentation.base64EncodedString()
        printNote("signed \(file) (\(image.byteCount) bytes) into \(file).sig")
        printNow(publicKey)
    }
}

/// `wharf plugins test`: what a partner runs in their CI before shipping a plugin.
struct PluginsTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Load a plugin in an isolated host and run its examples: each code step's, and each preset's on a devnet.",
        discussion: """
            Code steps run on the examples their manifest declares (input → expected output). Presets run \
            on the devnet with each example's parameters (or, without examples, the parameters their schema \
            requires, filled with sample text) and a sample input file when the example asks for one. \
            Exits with status 1 when anything fails.
            """
    )

    @Argument(help: "The plugin library (.so).") var file: String
    @Option(help: "Devnet orchestrators the presets run on (1-8).") var devnet = 2
    @Flag(help: "Only the code steps' examples, no presets (no devnet).") var codeStepsOnly = false

    func validate() throws {
        guard (1...8).contains(devnet) else { throw ValidationError("--devnet must be from 1 to 8") }
    }

    func run() async throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-plugin-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: workspace) }
        var report = TestReport()
        let quiet = Logger(label: "wharf.plugins.test", factory: { _ in SwiftLogNoOpLogHandler() })
        let plugin: Plugin
        do {
            let image = try PluginImage.read(file, publisherKeys: [])
            plugin = try await Plugin.load(image, isolation: PluginIsolation(temporaryDirectory: workspace + "/hosts"), logger: quiet)
        } catch {
            report.fail("loads", "\(error)")
            throw ExitCode(1)
        }
        defer { plugin.shutdown() }
        let manifest = plugin.manifest
        report.pass(
            "loads in an isolated host",
            "\(manifest.name) \(manifest.version): \(manifest.presets.count) presets, \(manifest.codeSteps.count) code steps"
        )
        await runCodeStepExamples(of: plugin, into: &report)
        if !codeStepsOnly { try await runPresets(of: plugin, workspace: workspace, into: &report) }
        printNow("\(report.passed) passed, \(report.failed) failed")
        if report.failed > 0 { throw ExitCode(1) }
    }

    private func runCodeStepExamples(of plugin: Plugin, into report: inout TestReport) async {
        for step in plugin.manifest.codeSteps {
            if step.examples.isEmpty { report.note("code step \(step.name)", "no examples in the manifest") }
            for (index, example) in step.examples.enumerated() {
                let name = "code step \(step.name) example \(index + 1)"
                do {
                    let input = try JSONEncoder().encode(example.input)
                    let result = try await plugin.runStep(step.name, input: input, artifacts: .none)
                    let output = try JSONDecoder().decode(JSONValue.self, from: result.output)
                    let (got, expected) = (try Self.text(output), try Self.text(example.output))
                    // Both went through JSON text (the manifest crossed the ABI as JSON), so equal
                    // values decode equal: key order and number spelling do not matter.
                    if output == example.output { report.pass(name, got) } else { report.fail(name, "expected \(expected), got \(got)") }
                } catch {
                    report.fail(name, "\(error)")
                }
            }
        }
    }

    private func runPresets(of plugin: Plugin, workspace: String, into report: inout TestReport) async throws {
        guard !plugin.manifest.presets.isEmpty else { return }
        let settings = workspace + "/wharf.yaml"
        try "data:\n  directory: \(workspace)/data\n".write(toFile: settings, atomically: true, encoding: .utf8)
        let configuration = try await WharfConfiguration.load(filePath: settings, environment: [:])
        let store = try SQLiteStore(path: workspace + "/wharf.sqlite")
        _ = try await store.migrate()
        let tenant = try await KeyManagement(store: store).createTenant(name: "plugin-test")
        let logger = Logger(label: "wharf.plugins.test", factory: { _ in SwiftLogNoOpLogHandler() })
        let network = try NetworkStack(configuration: configuration, metrics: NOOPMetricsHandler.instance)
        let runner = PresetRunner(
            store: store,
            router: network.router,
            plugins: [plugin],
            defaultModel: { pipeline in await network.pool.mostOfferedModel(for: pipeline) },
            logger: logger
        )
        let samples = SampleInputs(folder: workspace + "/samples")
        try await withLocalDevnet(devnet, network: network, configuration: configuration, logger: logger) {
            for preset in plugin.manifest.presets {
                let examples = preset.examples ?? [Preset.Example(parameters: Self.sampleParameters(for: preset))]
                for (index, example) in examples.enumerated() {
                    let name = "preset \(preset.name) example \(index + 1)"
                    do {
                        let job = try await runner.prepare(
                            PresetJobRequest(preset: preset.name, parameters: example.parameters),
                            tenantID: tenant.id
                        )
                        if let kind = example.input { try await runner.storeInput(try await samples.file(kind), of: job) }
                        let finished = try await runner.execute(job)
                        if finished.status == .succeeded {
                            let made = try JSONDecoder().decode(PresetJobResult.self, from: finished.result ?? Data()).artifacts
                            report.pass(name, made.isEmpty ? "succeeded" : "made \(made.joined(separator: ", "))")
                        } else {
                            let failure = finished.result.flatMap { try? JSONDecoder().decode(JobFailureResult.self, from: $0) }
                            report.fail(name, failure?.error ?? "ended \(finished.status.rawValue)")
                        }
                    } catch {
                        report.fail(name, "\(error)")
                    }
                }
            }
        }
    }

    /// A JSON value as compact text, keys sorted.
    static func text(_ value: JSONValue) throws -> String {
        String(decoding: try value.encoded(), as: UTF8.self)
    }

    /// A preset's required parameters, filled with sample text (or an allowed value).
    static func sampleParameters(for preset: Preset) -> [String: String] {
        guard let schema = ParameterSchema(parsing: preset.parameters) else { return [:] }
        var parameters: [String: String] = [:]
        for name in schema.required {
            let property = schema.properties[name]
            parameters[name] =
                property?.allowedValues?.first ?? (property?.type == "number" || property?.type == "integer" ? "1" : "sample text")
        }
        return parameters
    }
}

/// What `wharf plugins test` found, printed a line at a time as it goes.
private struct TestReport {
    var passed = 0
    var failed = 0

    mutating func pass(_ what: String, _ detail: String) {
        passed += 1
        printNow("ok    \(what): \(detail)")
    }

    mutating func fail(_ what: String, _ detail: String) {
        failed += 1
        printNow("FAIL  \(what): \(detail)")
    }

    func note(_ what: String, _ detail: String) {
        printNow("note  \(what): \(detail)")
    }
}

/// Sample input files for presets, made with ffmpeg once each: a 2-second video with sound, a
/// 2-second tone, a still image.
private final class SampleInputs: Sendable {
    let folder: String

    init(folder: String) {
        self.folder = folder
    }

    func file(_ kind: String) async throws -> (data: Data, contentType: String, fileExtension: String) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let (name, type, arguments): (String, String, [String]) =
            switch kind {
            case "video":
                (
                    "sample.mp4", "video/mp4",
                    [
                        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=12:duration=2", "-f", "lavfi", "-i",
                        "sine=frequency=440:duration=2",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                    ]
                )
            case "audio": ("sample.wav", "audio/wav", ["-f", "lavfi", "-i", "sine=frequency=440:duration=2"])
            case "image": ("sample.png", "image/png", ["-f", "lavfi", "-i", "testsrc2=size=512x512", "-frames:v", "1"])
            default: throw WharfError(.invalidArgument, "an example's input is video, audio or image, not '\(kind)'")
            }
        let path = (folder as NSString).appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: path) { try await MediaTools().ffmpeg(arguments + [path]) }
        // A 2-second sample is well under a megabyte; the bound is against a surprising ffmpeg.
        guard let handle = FileHandle(forReadingAtPath: path), let data = try handle.read(upToCount: 64 << 20), data.count < 64 << 20 else {
            throw WharfError(.invalidArgument, "the sample \(kind) file \(path) is missing or larger than 64 MiB")
        }
        try? handle.close()
        return (data, type, (name as NSString).pathExtension)
    }
}
