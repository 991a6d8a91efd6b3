import Crypto
import Foundation
import Logging
import Testing
import WharfModel
import WharfPlugins

/// The plugin host on real shared libraries: the Template plugin built by SwiftPM, and small C
/// libraries compiled here to be wrong in one way each.
@Suite(.layer(.endToEnd), .timeLimit(.minutes(2))) struct PluginTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `libWharfTemplatePlugin.so`, built next to the test binary by `swift build --build-tests`.
    static var templateLibrary: String {
        get throws {
            let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            var folder = testBinary.deletingLastPathComponent()
            while folder.path != "/",
                !FileManager.default.fileExists(atPath: folder.appendingPathComponent("libWharfTemplatePlugin.so").path)
            {
                folder = folder.deletingLastPathComponent()
            }
            let path = folder.appendingPathComponent("libWharfTemplatePlugin.so").path
            guard FileManager.default.fileExists(atPath: path) else {
                throw PluginLoadError(path: "libWharfTemplatePlugin.so", problem: "was not built (run swift build --build-tests)")
            }
            return path
        }
    }

    /// Plugin host processes started from the `wharf` binary the suite built, in `directory`.
    static func isolation(_ directory: TemporaryDirectory, processes: Int = 2) -> PluginIsolation {
        PluginIsolation(executable: WharfProcess.executable, processesPerPlugin: processes, temporaryDirectory: directory.file("hosts"))
    }

    @Test func theTemplatePluginLoadsAndItsCodeStepRuns() async throws {
        let plugin = try LoadedPlugin.load(try Self.templateLibrary, signature: .unsigned)
        #expect(plugin.manifest.name == "template")
        #expect(plugin.manifest.version == "1.0.0")
        #expect(plugin.manifest.presets.map(\.name) == ["template.greet", "template.storyboard"])
        #expect(plugin.manifest.codeSteps.map(\.name) == ["greet"])

        let result = try await plugin.runStep("greet", input: Data(#"{"name":"Ada"}"#.utf8), artifacts: [:])
        let output = try #require(try JSONSerialization.jsonObject(with: result.output) as? [String: Any])
        #expect(output["text"] as? String == "Hello, Ada, from a Wharf plugin.")
        #expect(result.written["greeting.txt"]?.data == Data("Hello, Ada, from a Wharf plugin.".utf8))
        #expect(result.written["greeting.txt"]?.contentType == "text/plain")
        #expect(result.logs == ["info: greeting Ada"])

        let invalid = await #expect(throws: PluginStepError.self) {
            try await plugin.runStep("greet", input: Data("{}".utf8), artifacts: [:])
        }
        #expect(invalid?.status == 1)
        #expect(invalid?.message.contains("name") == true)
        let unknown = await #expect(throws: PluginStepError.self) {
            try await plugin.runStep("shout", input: Data("{}".utf8), artifacts: [:])
        }
        #expect(unknown?.status == 2)
    }

    /// The captions plugin's subtitles step turns an orchestrator's transcript into cue times: absurd
    /// timestamps (1e300 s, negative, not numbers) are bounded, not trapped on, inside the gateway.
    @Test func theCaptionsStepBoundsAbsurdTimestamps() async throws {
        let folder = (try Self.templateLibrary as NSString).deletingLastPathComponent
        let plugin = try LoadedPlugin.load(folder + "/libWharfVideoCaptionsPlugin.so", signature: .unsigned)
        let transcript = #"""
            {"steps": {"transcript": {"text": "x", "chunks": [
                {"timestamp": [1e300, 1.7976931348623157e308], "text": "far"},
                {"timestamp": [-1e300, -5], "text": "before"},
                {"timestamp": ["soon", null], "text": "words"},
                {"timestamp": [1, 2], "text": "fine"}
            ]}}}
            """#
        let result = try await plugin.runStep("subtitles", input: Data(transcript.utf8), artifacts: [:])
        let vtt = String(decoding: try #require(result.written["subtitles.vtt"]?.data), as: UTF8.self)
        #expect(vtt.contains("99:59:59.999 --> 99:59:59.999\nfar"))
        #expect(vtt.contains("00:00:01.000 --> 00:00:02.000\nfine"))
        #expect(vtt.contains("00:00:00.000 --> 00:00:00.500\nbefore"), "a negative time is 0: \(vtt)")
    }

    @Test func pluginsExportOnlyTheEntrySymbol() async throws {
        let symbols = try await runTool("nm", ["-D", "--defined-only", "--extern-only", try Self.templateLibrary])
        #expect(symbols.status == 0)
        let names = symbols.output.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
        #expect(names == ["wharf_plugin_entry_v1"])
    }

    @Test(arguments: [
        ("not JSON", "{", "the manifest is not JSON"),
        ("missing field", #"{"name":"x","version":"1.0.0","description":"","presets":[]}"#, "missing field .code_steps"),
        ("bad name", #"{"name":"Bad Name","version":"1.0.0","description":"","presets":[],"code_steps":[]}"#, "name 'Bad Name'"),
        ("bad version", #"{"name":"x","version":"1.0","description":"","presets":[],"code_steps":[]}"#, "not a semantic version"),
        (
            "duplicate code step",
            #"{"name":"x","version":"1.0.0","description":"","presets":[],"code_steps":[{"name":"a","description":""},{"name":"a","description":""}]}"#,
            "declared twice"
        ),
        (
            "unknown code step",
            #"{"name":"x","version":"1.0.0","description":"","presets":[{"name":"x.p","description":"","parameters":"{\"type\":\"object\"}","steps":[{"id":"s","kind":"code","uses":"missing"}]}],"code_steps":[]}"#,
            "does not declare"
        ),
        (
            "step after a later step",
            #"{"name":"x","version":"1.0.0","description":"","presets":[{"name":"x.p","description":"","parameters":"{\"type\":\"object\"}","steps":[{"id":"a","kind":"media","uses":"probe","after":["b"]},{"id":"b","kind":"media","uses":"probe"}]}],"code_steps":[]}"#,
            "not an earlier step"
        ),
        (
            "bad schema",
            #"{"name":"x","version":"1.0.0","description":"","presets":[{"name":"x.p","description":"","parameters":"[]","steps":[{"id":"a","kind":"media","uses":"probe"}]}],"code_steps":[]}"#,
            "JSON Schema of type object"
        ),
        (
            "bad kind",
            #"{"name":"x","version":"1.0.0","description":"","presets":[{"name":"x.p","description":"","parameters":"{\"type\":\"object\"}","steps":[{"id":"a","kind":"shell","uses":"rm"}]}],"code_steps":[]}"#,
            "kinds are network, media, code"
        ),
    ])
    func badManifestsAreRefusedWithTheProblem(label: String, manifest: String, problem: String) async throws {
        let directory = try TemporaryDirectory()
        let library = try await Self.compile(directory, "plugin", manifest: manifest)
        let error = #expect(throws: PluginLoadError.self, "\(label)") { try LoadedPlugin.load(library, signature: .unsigned) }
        #expect(error?.description.contains(library) == true)
        #expect(error?.problem.contains("bad manifest") == true)
        #expect(error?.problem.contains(problem) == true, "\(label): \(error?.problem ?? "")")
    }

    @Test func wrongABIsMissingSymbolsAndRefusalsAreReported() async throws {
        let directory = try TemporaryDirectory()
        let good = #"{"name":"c-plugin","version":"0.1.0","description":"","presets":[],"code_steps":[]}"#
        let newer = try await Self.compile(directory, "newer", manifest: good, abiVersion: "2")
        #expect(
            #expect(throws: PluginLoadError.self) { try LoadedPlugin.load(newer, signature: .unsigned) }?.problem.contains("ABI 2") == true
        )
        let small = try await Self.compile(directory, "small", manifest: good, structSize: "8")
        #expect(
            #expect(throws: PluginLoadError.self) { try LoadedPlugin.load(small, signature: .unsigned) }?.problem.contains("8-byte") == true
        )
        let refusing = try await Self.compile(directory, "refusing", manifest: good, refuse: true)
        #expect(
            #expect(throws: PluginLoadError.self) { try LoadedPlugin.load(refusing, signature: .unsigned) }?.problem.contains("NULL")
                == true
        )
        let noEntry = try await Self.compile(directory, "noentry", manifest: good, exportEntry: false)
        #expect(
            #expect(throws: PluginLoadError.self) { try LoadedPlugin.load(noEntry, signature: .unsigned) }?.problem.contains(
                "does not export"
            ) == true
        )
        let notALibrary = try directory.write("garbage.so", "not an ELF file")
        #expect(
            #expect(throws: PluginLoadError.self) { try LoadedPlugin.load(notALibrary, signature: .unsigned) }?.problem.contains(
                "cannot be loaded"
            ) == true
        )
        // The C plugin that is right loads.
        #expect(
            try LoadedPlugin.load(try await Self.compile(directory, "fine", manifest: good), signature: .unsigned).manifest.name
                == "c-plugin"
        )
    }

    @Test func aFolderLoadsTheGoodOnesAndReportsTheRest() async throws {
        let directory = try TemporaryDirectory()
        let folder = directory.file("plugins")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try Self.templateLibrary, toPath: folder + "/a-template.so")
        try FileManager.default.copyItem(atPath: try Self.templateLibrary, toPath: folder + "/b-template-again.so")
        _ = try await Self.compile(directory, "plugins/c-broken", manifest: "{")
        try "readme".write(toFile: folder + "/README.txt", atomically: true, encoding: .utf8)
        // Loaded as the gateway loads them: each in a plugin host process.
        let catalog = await PluginCatalog.load(
            folder: folder,
            requireSignature: false,
            publisherKeys: [],
            isolation: Self.isolation(directory),
            logger: Logger(label: "test")
        )
        defer { catalog.shutdown() }
        #expect(catalog.plugins.map(\.manifest.name) == ["template"])
        #expect(catalog.failures.count == 2)
        #expect(catalog.failures.contains { $0.path.hasSuffix("b-template-again.so") && $0.problem.contains("already loaded") })
        #expect(catalog.failures.contains { $0.path.hasSuffix("c-broken.so") && $0.problem.contains("bad manifest") })
    }

    @Test func signaturesAreRequiredWhenConfigured() async throws {
        let directory = try TemporaryDirectory()
        let folder = directory.file("plugins")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let library = folder + "/template.so"
        try FileManager.default.copyItem(atPath: try Self.templateLibrary, toPath: library)
        let publisher = Curve25519.Signing.PrivateKey()
        let publisherKey = publisher.publicKey.rawRepresentation.base64EncodedString()
        let stranger = Curve25519.Signing.PrivateKey().publicKey.rawRepresentation.base64EncodedString()
        let logger = Logger(label: "test")

        let unsigned = await PluginCatalog.load(
            folder: folder,
            requireSignature: true,
            publisherKeys: [publisherKey],
            isolation: .inProcess,
            logger: logger
        )
        #expect(unsigned.plugins.isEmpty)
        #expect(unsigned.failures.first?.problem.contains("unsigned and plugins.require_signature is on") == true)

        let signature = try publisher.signature(for: try Data(contentsOf: URL(fileURLWithPath: library)))
        try signature.base64EncodedString().write(toFile: library + ".sig", atomically: true, encoding: .utf8)
        let signed = await PluginCatalog.load(
            folder: folder,
            requireSignature: true,
            publisherKeys: [stranger, publisherKey],
            isolation: .inProcess,
            logger: logger
        )
        #expect(signed.plugins.first?.signature == .signed(publisher: publisherKey))

        let strangers = await PluginCatalog.load(
            folder: folder,
            requireSignature: true,
            publisherKeys: [stranger],
            isolation: .inProcess,
            logger: logger
        )
        #expect(strangers.plugins.isEmpty)
        #expect(strangers.failures.first?.problem.contains("no configured publisher key verifies it") == true)

        // Without the requirement a plugin loads signed or not, and says which.
        let relaxed = await PluginCatalog.load(
            folder: folder,
            requireSignature: false,
            publisherKeys: [],
            isolation: .inProcess,
            logger: logger
        )
        #expect(relaxed.plugins.first?.signature == .invalid("no publisher keys are configured"))
    }

    @Test func operatorsSeePluginsThroughTheCLIAndTheAdminAPI() async throws {
        let directory = try TemporaryDirectory()
        let folder = directory.file("plugins")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try Self.templateLibrary, toPath: folder + "/template.so")
        let environment = ["WHARF_PLUGINS_DIRECTORY": folder]

        let listed = try await WharfProcess.run(["plugins", "list"], in: directory.path, environment: environment)
        #expect(listed.status == 0, "\(listed.standardError)")
        #expect(listed.standardOutput.contains("template") && listed.standardOutput.contains("template.greet"))
        let inspected = try await WharfProcess.run(["plugins", "inspect", folder + "/template.so"], in: directory.path)
        #expect(inspected.standardOutput.contains("step greet: code greet"))
        let verified = try await WharfProcess.run(
            ["plugins", "verify", folder + "/template.so"],
            in: directory.path,
            environment: environment
        )
        #expect(verified.status == 1)
        #expect(verified.standardOutput.contains("unsigned"))

        _ = try await Self.compile(directory, "plugins/broken", manifest: "{")
        let withBroken = try await WharfProcess.run(["plugins", "list"], in: directory.path, environment: environment)
        #expect(withBroken.status == 1)
        #expect(withBroken.standardError.contains("broken.so has a bad manifest"))

        let gateway = try await ServedGateway(environment: environment, devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let listing = try await httpGet("http://127.0.0.1:\(gateway.adminPort)/admin/v1/plugins", bearer: gateway.key)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(listing.body.utf8)) as? [String: Any])
        #expect((document["data"] as? [[String: Any]])?.first?["name"] as? String == "template")
        #expect((document["failures"] as? [[String: Any]])?.first?["file"] as? String == folder + "/broken.so")
    }

    /// Compiles a C plugin into `<directory>/<name>.so` with the given manifest and table.
    static func compile(
        _ directory: TemporaryDirectory,
        _ name: String,
        manifest: String,
        abiVersion: String = "WHARF_PLUGIN_ABI_VERSION",
        structSize: String = "sizeof(wharf_plugin_v1)",
        refuse: Bool = false,
        exportEntry: Bool = true
    ) async throws -> String {
        let escaped = manifest.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let source = """
            #include "wharf_plugin.h"
            #include <stdlib.h>
            static wharf_status run(const char *step, wharf_bytes input, const wharf_host_api_v1 *host,
                                    wharf_buffer *output, wharf_buffer *error) { return WHARF_STATUS_UNSUPPORTED; }
            static void release(wharf_buffer buffer) { free(buffer.data); }
            static const wharf_plugin_v1 table = { \(abiVersion), \(structSize), "\(escaped)", run, release };
            \(exportEntry ? "" : "static ")const wharf_plugin_v1 *wharf_plugin_entry_v1(void) { return \(refuse ? "NULL" : "&table"); }
            const void *keep_it(void) { return (const void *)wharf_plugin_entry_v1; }
            """
        let sourcePath = try directory.write("\(name.replacingOccurrences(of: "/", with: "-")).c", source)
        let library = directory.file("\(name).so")
        let include = repository.appendingPathComponent("Sources/WharfPluginABI/include").path
        let compiled = try await runTool("cc", ["-shared", "-fPIC", "-I", include, "-o", library, sourcePath])
        #expect(compiled.status == 0, "\(compiled.output)")
        return library
    }
}

/// The partner's tools: `wharf plugins test`, `keygen`, `sign`, on the example plugins.
@Suite(.layer(.endToEnd), .timeLimit(.minutes(3))) struct PluginSDKTests {
    /// The C example built as its Makefile builds it, into `directory`.
    static func buildChecksumPlugin(
        _ directory: TemporaryDirectory,
        source: String? = nil,
        name: String = "libchecksum.so"
    ) async throws
        -> String
    {
        let example = PluginTests.repository.appendingPathComponent("Plugins/Checksum").path
        let sourcePath = try source.map { try directory.write("checksum-\(name).c", $0) } ?? example + "/checksum.c"
        let library = directory.file(name)
        let compiled = try await runTool(
            "cc",
            [
                "-O2", "-Wall", "-Wextra", "-Werror", "-std=c11", "-shared", "-fPIC", "-I",
                PluginTests.repository.appendingPathComponent("Sources/WharfPluginABI/include").path,
                "-Wl,--version-script=\(PluginTests.repository.appendingPathComponent("Plugins/plugin-exports.map").path)", "-o", library,
                sourcePath,
            ]
        )
        #expect(compiled.status == 0, "\(compiled.output)")
        return library
    }

    @Test func pluginsTestPassesOnTheExamplePlugins() async throws {
        let directory = try TemporaryDirectory()
        let folder = (try PluginTests.templateLibrary as NSString).deletingLastPathComponent
        let libraries =
            ["Template", "VideoCaptions", "ThumbnailStudio"].map { "\(folder)/libWharf\($0)Plugin.so" }
            + [try await Self.buildChecksumPlugin(directory)]
        for library in libraries {
            let tested = try await WharfProcess.run(["plugins", "test", library], in: directory.path)
            #expect(tested.status == 0, "\(library): \(tested.standardOutput) \(tested.standardError)")
            #expect(tested.standardOutput.contains(" 0 failed"), "\(tested.standardOutput)")
            #expect(!tested.standardOutput.contains("FAIL"))
            #expect(tested.standardOutput.contains("ok    preset "), "every example plugin has a preset that ran: \(tested.standardOutput)")
        }
    }

    @Test func pluginsTestFailsWithAReportOnAWrongExample() async throws {
        let directory = try TemporaryDirectory()
        let example = PluginTests.repository.appendingPathComponent("Plugins/Checksum/checksum.c").path
        let original = try String(contentsOfFile: example, encoding: .utf8)
        let wrong = original.replacingOccurrences(of: #"\"missing\":1}}"#, with: #"\"missing\":7}}"#)
        #expect(wrong != original)
        let library = try await Self.buildChecksumPlugin(directory, source: wrong, name: "libwrong.so")
        let tested = try await WharfProcess.run(["plugins", "test", "--code-steps-only", library], in: directory.path)
        #expect(tested.status == 1)
        #expect(
            tested.standardOutput.contains(
                #"FAIL  code step checksum example 2: expected {"files":[],"missing":7}, got {"files":[],"missing":1}"#
            ),
            "\(tested.standardOutput)"
        )
        #expect(tested.standardOutput.contains("ok    code step checksum example 1"))
        #expect(tested.standardOutput.contains("2 passed, 1 failed"))

        // A plugin that crashes in its step fails the test with the crash, not the tool.
        let crashing = try await Self.buildChecksumPlugin(
            directory,
            source: original.replacingOccurrences(
                of: "if (strcmp(step, \"checksum\") != 0)",
                with: "abort(); if (strcmp(step, \"checksum\") != 0)"
            ),
            name: "libcrash.so"
        )
        let crashed = try await WharfProcess.run(["plugins", "test", "--code-steps-only", crashing], in: directory.path)
        #expect(crashed.status == 1)
        #expect(crashed.standardOutput.contains("plugin checksum crashed: signal 6 in step checksum"), "\(crashed.standardOutput)")
    }

    @Test func aPartnerSignsWithKeygenAndSignAndTheGatewayVerifies() async throws {
        let directory = try TemporaryDirectory()
        let library = try await Self.buildChecksumPlugin(directory)
        let made = try await WharfProcess.run(["plugins", "keygen", "--key", directory.file("publisher.key")], in: directory.path)
        #expect(made.status == 0, "\(made.standardError)")
        let publicKey = made.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Data(base64Encoded: publicKey)?.count == 32)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.file("publisher.key"))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let again = try await WharfProcess.run(["plugins", "keygen", "--key", directory.file("publisher.key")], in: directory.path)
        #expect(again.status == 1, "a key is never overwritten")

        let signed = try await WharfProcess.run(["plugins", "sign", "--key", directory.file("publisher.key"), library], in: directory.path)
        #expect(signed.status == 0, "\(signed.standardError)")
        #expect(signed.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == publicKey)
        let verified = try await WharfProcess.run(
            ["plugins", "verify", library],
            in: directory.path,
            environment: ["WHARF_PLUGINS_PUBLISHER_KEYS": publicKey]
        )
        #expect(verified.status == 0, "\(verified.standardOutput)")
        #expect(verified.standardOutput.contains("signed by \(publicKey)"))

        // One byte changed after signing: the signature no longer holds.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: library))
        bytes[bytes.count - 1] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: library))
        let tampered = try await WharfProcess.run(
            ["plugins", "verify", library],
            in: directory.path,
            environment: ["WHARF_PLUGINS_PUBLISHER_KEYS": publicKey]
        )
        #expect(tampered.status == 1)
    }
}
