import Crypto
import Foundation
import Logging
import NIOHTTP1
import Testing
import WharfModel
import WharfPlugins

/// Plugins that misbehave, compiled here from C, run by a real gateway in plugin host processes:
/// each takes down only its own step.
@Suite(.layer(.endToEnd), .timeLimit(.minutes(3))) struct PluginIsolationTests {
    /// What each test plugin's one code step does, in C.
    enum Misbehavior: String, CaseIterable {
        case segfault, abort, overflow, spin, hog, chatty

        var body: String {
            switch self {
            case .segfault: "volatile int *nowhere = (int *)0; *nowhere = 1;"
            case .abort: "abort();"
            // What Swift does on an overflow: a trap instruction (SIGILL).
            case .overflow: "int sum; volatile int big = 2147483647; if (__builtin_add_overflow(big, 1, &sum)) __builtin_trap();"
            case .spin: "for (volatile unsigned long i = 0;; i++) {}"
            case .hog:
                "for (;;) { char *block = malloc(1 << 20); if (block == NULL) abort(); memset(block, 1, 1 << 20); }"
            case .chatty:
                """
                char line[1024]; memset(line, 'x', sizeof line - 2); line[sizeof line - 2] = '\\n'; line[sizeof line - 1] = 0;
                for (int i = 0; i < 20000; i++) { fputs(line, stdout); fputs(line, stderr); }
                fflush(stdout);
                """
            }
        }
    }

    /// Compiles a plugin named `name` with one preset, `<name>.run`, whose code step runs `body`
    /// and then answers `{"ok":true}`.
    static func compile(_ directory: TemporaryDirectory, _ name: String, body: String, version: String = "1.0.0") async throws -> String {
        let manifest = """
            {"name":"\(name)","version":"\(version)","description":"test","code_steps":[{"name":"work","description":""}],\
            "presets":[{"name":"\(name).run","description":"","parameters":"{\\"type\\":\\"object\\"}",\
            "steps":[{"id":"work","kind":"code","uses":"work","with":{"timeout_seconds":"3"}}]}]}
            """
        let escaped = manifest.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let source = """
            #include "wharf_plugin.h"
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include <unistd.h>
            static wharf_status run(const char *step, wharf_bytes input, const wharf_host_api_v1 *host,
                                    wharf_buffer *output, wharf_buffer *error) {
                \(body)
                static const char answer[] = "{\\"ok\\":true}";
                output->data = malloc(sizeof answer - 1);
                memcpy(output->data, answer, sizeof answer - 1);
                output->length = sizeof answer - 1;
                return WHARF_STATUS_OK;
            }
            static void release(wharf_buffer buffer) { free(buffer.data); }
            static const wharf_plugin_v1 table = { WHARF_PLUGIN_ABI_VERSION, sizeof(wharf_plugin_v1), "\(escaped)", run, release };
            const wharf_plugin_v1 *wharf_plugin_entry_v1(void) { return &table; }
            """
        let sourcePath = try directory.write("\(name).c", source)
        let library = directory.file("plugins/\(name).so")
        try FileManager.default.createDirectory(atPath: directory.file("plugins"), withIntermediateDirectories: true)
        let include = PluginTests.repository.appendingPathComponent("Sources/WharfPluginABI/include").path
        let compiled = try await runTool("cc", ["-O0", "-shared", "-fPIC", "-I", include, "-o", library, sourcePath])
        #expect(compiled.status == 0, "\(compiled.output)")
        return library
    }

    static func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
    }

    @Test func misbehavingPluginsFailOnlyTheirOwnStep() async throws {
        let directory = try TemporaryDirectory()
        for misbehavior in Misbehavior.allCases { _ = try await Self.compile(directory, misbehavior.rawValue, body: misbehavior.body) }
        try FileManager.default.copyItem(atPath: try PluginTests.templateLibrary, toPath: directory.file("plugins/template.so"))
        let gateway = try await ServedGateway(
            environment: ["WHARF_PLUGINS_DIRECTORY": directory.file("plugins"), "WHARF_PLUGINS_MAX_MEMORY_MB": "512"],
            devnet: 1,
            orchestrators: 1,
            in: directory
        )
        defer { gateway.stop() }

        // The gateway answers its health check all along.
        let healthChecks = Task {
            var failures: [String] = []
            var checks = 0
            while !Task.isCancelled {
                do {
                    let answer = try await httpGet("http://127.0.0.1:\(gateway.publicPort)/healthz")
                    if answer.status != 200 { failures.append("status \(answer.status)") }
                } catch {
                    if !Task.isCancelled { failures.append("\(error)") }
                }
                checks += 1
                try? await Task.sleep(for: .milliseconds(50))
            }
            return (checks, failures)
        }
        let presets = Misbehavior.allCases.map { "\($0.rawValue).run" } + Array(repeating: "template.greet", count: 6)
        let answers = try await withThrowingTaskGroup(of: (String, Data).self) { group in
            for preset in presets {
                group.addTask {
                    let body = try JSONSerialization.data(withJSONObject: ["preset": preset, "parameters": ["name": "Ada"]])
                    let answer = try await gateway.send(
                        .POST,
                        "/v2/jobs",
                        body: body,
                        contentType: "application/json",
                        headers: [("Prefer", "wait=60")]
                    )
                    return (preset, answer.body)
                }
            }
            return try await group.reduce(into: [(String, Data)]()) { $0.append($1) }
        }
        let jobs = try answers.map { ($0.0, try Self.json($0.1)) }
        healthChecks.cancel()
        let (checks, failures) = await healthChecks.value
        #expect(checks > 10 && failures.isEmpty, "\(failures.count) of \(checks) health checks failed: \(failures)")

        func job(_ preset: String) -> [String: Any] { jobs.first { $0.0 == preset }?.1 ?? [:] }
        func failure(_ misbehavior: Misbehavior) -> String {
            ((job("\(misbehavior.rawValue).run")["steps"] as? [[String: Any]])?.first?["error"] as? String) ?? ""
        }
        for (preset, resource) in jobs where preset == "template.greet" {
            #expect(resource["status"] as? String == "succeeded", "\(resource)")
        }
        for misbehavior in [Misbehavior.segfault, .abort, .overflow, .hog] {
            #expect(job("\(misbehavior.rawValue).run")["status"] as? String == "failed", "\(misbehavior)")
        }
        #expect(failure(.segfault).contains("plugin segfault crashed: signal 11 in step work"), "\(failure(.segfault))")
        #expect(failure(.abort).contains("plugin abort crashed: signal 6 in step work"), "\(failure(.abort))")
        #expect(failure(.overflow).contains("plugin overflow crashed: signal 4 in step work"), "\(failure(.overflow))")
        #expect(failure(.hog).contains("plugin hog crashed: signal 6 in step work"), "\(failure(.hog))")
        #expect(job("spin.run")["status"] as? String == "failed")
        #expect(failure(.spin).contains("work"), "\(failure(.spin))")
        // Its standard output went to the gateway's tail, not into the channel: the step is fine.
        #expect(job("chatty.run")["status"] as? String == "succeeded", "\(job("chatty.run"))")
        #expect((job("chatty.run")["result"] as? [String: Any])?["work"] as? [String: Bool] == ["ok": true])

        // The spinning step's host was killed: no host process of that plugin is left running.
        let plugins = try Self.json(
            Data(try await httpGet("http://127.0.0.1:\(gateway.adminPort)/admin/v1/plugins", bearer: gateway.key).body.utf8)
        )
        let spin = try #require((plugins["data"] as? [[String: Any]])?.first { $0["name"] as? String == "spin" })
        #expect(spin["processes"] as? Int == 0, "\(spin)")
        #expect(spin["status"] as? String == "healthy", "one crash does not make a plugin unhealthy")
        let segfault = try #require((plugins["data"] as? [[String: Any]])?.first { $0["name"] as? String == "segfault" })
        #expect(segfault["crashes"] as? Int == 1)
        #expect(segfault["isolation"] as? String == "process")

        // No job is left running, and the gateway still serves.
        let listing = try Self.json(try await gateway.send(.GET, "/v2/jobs?limit=100").body)
        #expect((listing["data"] as? [[String: Any]])?.allSatisfy { $0["status"] as? String != "running" } == true)
        let again = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: try JSONSerialization.data(withJSONObject: ["preset": "template.greet", "parameters": ["name": "Bo"]]),
            contentType: "application/json",
            headers: [("Prefer", "wait=20")]
        )
        #expect(try Self.json(again.body)["status"] as? String == "succeeded")
    }

    @Test func aPluginThatKeepsCrashingIsRefusedWith503AndShownUnhealthy() async throws {
        let directory = try TemporaryDirectory()
        _ = try await Self.compile(directory, "crasher", body: Misbehavior.segfault.body)
        let gateway = try await ServedGateway(
            environment: ["WHARF_PLUGINS_DIRECTORY": directory.file("plugins")],
            devnet: 1,
            orchestrators: 1,
            in: directory
        )
        defer { gateway.stop() }
        let body = try JSONSerialization.data(withJSONObject: ["preset": "crasher.run", "parameters": [:]])
        for _ in 0..<3 {
            let answer = try await gateway.send(
                .POST,
                "/v2/jobs",
                body: body,
                contentType: "application/json",
                headers: [("Prefer", "wait=20")]
            )
            #expect(try Self.json(answer.body)["status"] as? String == "failed")
        }
        let refused = try await gateway.send(.POST, "/v2/jobs", body: body, contentType: "application/json")
        #expect(refused.status == 503)
        let problem = try Self.json(refused.body)
        #expect(problem["type"] as? String == "urn:wharf:problem:plugin-unavailable")
        #expect(
            (problem["detail"] as? String)?.contains("plugin crasher is unhealthy: its host process crashed 3 times") == true,
            "\(problem)"
        )

        let plugins = try Self.json(
            Data(try await httpGet("http://127.0.0.1:\(gateway.adminPort)/admin/v1/plugins", bearer: gateway.key).body.utf8)
        )
        let crasher = try #require((plugins["data"] as? [[String: Any]])?.first)
        #expect(crasher["status"] as? String == "unhealthy")
        #expect((crasher["reason"] as? String)?.contains("signal 11") == true, "\(crasher)")
        let metrics = try await httpGet("http://127.0.0.1:\(gateway.adminPort)/metrics", bearer: gateway.key)
        #expect(metrics.body.contains(#"wharf_plugin_healthy{plugin="crasher"} 0"#), "\(metrics.body.prefix(200))")
        #expect(metrics.body.contains(#"wharf_plugin_crashes_total{plugin="crasher"} 3"#))
    }

    /// After its pause an unhealthy plugin gets one step; when that succeeds it is healthy again.
    @Test func anUnhealthyPluginRecoversWhenAStepSucceedsAfterItsPause() async throws {
        let directory = try TemporaryDirectory()
        // Crashes while a file named "crash" is in its folder.
        let library = try await Self.compile(directory, "moody", body: #"if (fopen("\#(directory.file("crash"))", "r")) abort();"#)
        try directory.write("crash", "")
        var isolation = PluginTests.isolation(directory)
        isolation.crashesBeforeUnhealthy = 2
        isolation.unhealthyFor = .milliseconds(500)
        let plugin = try await Plugin.load(
            try PluginImage.read(library, publisherKeys: []),
            isolation: isolation,
            logger: Logger(label: "test")
        )
        defer { plugin.shutdown() }
        for _ in 0..<2 {
            await #expect(throws: PluginHostFailure.self) { try await plugin.runStep("work", input: Data("{}".utf8), artifacts: .none) }
        }
        #expect(plugin.health.status == .unhealthy)
        #expect(plugin.health.crashes == 2)
        #expect(throws: PluginUnavailable.self) { try plugin.checkAvailable() }
        await #expect(throws: PluginUnavailable.self) { try await plugin.runStep("work", input: Data("{}".utf8), artifacts: .none) }

        try FileManager.default.removeItem(atPath: directory.file("crash"))
        try await Task.sleep(for: .milliseconds(600))
        let result = try await plugin.runStep("work", input: Data("{}".utf8), artifacts: .none)
        #expect(String(decoding: result.output, as: UTF8.self) == #"{"ok":true}"#)
        #expect(plugin.health.status == .healthy)
    }

    /// The signature is checked on the bytes read once; a file swapped afterwards is not what runs,
    /// in the gateway's process or in a host process started later.
    @Test func aFileSwappedAfterItsSignatureWasCheckedIsNotWhatLoads() async throws {
        let directory = try TemporaryDirectory()
        let folder = directory.file("plugins")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let library = folder + "/template.so"
        try FileManager.default.copyItem(atPath: try PluginTests.templateLibrary, toPath: library)
        let publisher = Curve25519.Signing.PrivateKey()
        let signature = try publisher.signature(for: try Data(contentsOf: URL(fileURLWithPath: library)))
        try signature.base64EncodedString().write(toFile: library + ".sig", atomically: true, encoding: .utf8)
        let image = try PluginImage.read(library, publisherKeys: [publisher.publicKey.rawRepresentation.base64EncodedString()])
        #expect(image.signature == .signed(publisher: publisher.publicKey.rawRepresentation.base64EncodedString()))

        // An unsigned library of the same name replaces the file, in place and by rename.
        let impostor = try await Self.compile(directory, "template", body: "", version: "6.6.6")
        try Data(contentsOf: URL(fileURLWithPath: impostor)).write(to: URL(fileURLWithPath: library))
        #expect(try LoadedPlugin.load(library, signature: .unsigned).manifest.version == "6.6.6", "the file did change")

        #expect(try LoadedPlugin.load(image).manifest.version == "1.0.0")
        // Each host runs one step and is replaced: every step after the first runs in a host
        // started after the swap.
        var isolation = PluginTests.isolation(directory)
        isolation.stepsPerProcess = 1
        let isolated = try await Plugin.load(image, isolation: isolation, logger: Logger(label: "test"))
        defer { isolated.shutdown() }
        #expect(isolated.manifest.version == "1.0.0")
        for name in ["Ada", "Bo", "Cy"] {
            let result = try await isolated.runStep("greet", input: Data(#"{"name":"\#(name)"}"#.utf8), artifacts: .none)
            #expect(String(decoding: result.output, as: UTF8.self).contains("Hello, \(name), from a Wharf plugin"))
        }
        #expect(isolated.health.crashes == 0)
    }

    /// A host process inherits nothing of the gateway: only its channel and standard streams are
    /// open, its environment is cleared, and it works in a private temporary folder.
    @Test func aHostProcessInheritsNoDescriptorsAndNoEnvironment() async throws {
        let directory = try TemporaryDirectory()
        // Opened here (the test process plays the gateway) and inherited by nothing.
        let secret = open(directory.file("secret.db"), O_CREAT | O_RDWR, 0o600)
        defer { close(secret) }
        setenv("WHARF_SECRET_FOR_TEST", "do-not-leak", 1)
        let library = try await Self.compile(
            directory,
            "nosy",
            body: #"""
                static char report[8192]; size_t used = 0;
                used += snprintf(report + used, sizeof report - used, "{\"fds\":[");
                for (int fd = 0; fd < 1024; fd++) {
                    char link[256], path[64]; snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                    ssize_t n = readlink(path, link, sizeof link - 1); if (n < 0) continue; link[n] = 0;
                    used += snprintf(report + used, sizeof report - used, "%s\"%d %s\"", used > 8 ? "," : "", fd, link);
                }
                extern char **environ; int count = 0; for (char **e = environ; *e; e++) count++;
                char here[512]; getcwd(here, sizeof here);
                used += snprintf(report + used, sizeof report - used, "],\"environment\":%d,\"tmpdir\":\"%s\",\"cwd\":\"%s\"}",
                                 count, getenv("TMPDIR") ? getenv("TMPDIR") : "", here);
                output->data = malloc(used); memcpy(output->data, report, used); output->length = used;
                return WHARF_STATUS_OK;
                """#
        )
        let plugin = try await Plugin.load(
            try PluginImage.read(library, publisherKeys: []),
            isolation: PluginTests.isolation(directory),
            logger: Logger(label: "test")
        )
        defer { plugin.shutdown() }
        let result = try await plugin.runStep("work", input: Data("{}".utf8), artifacts: .none)
        let report = try Self.json(result.output)
        let descriptors = try #require(report["fds"] as? [String])
        #expect(!descriptors.contains { $0.contains("secret.db") || $0.contains("socket:") }, "\(descriptors)")
        #expect(descriptors.count <= 7, "\(descriptors)")
        #expect(report["environment"] as? Int == 4, "TMPDIR, HOME, LANG and SWIFT_BACKTRACE only")
        let temporary = try #require(report["tmpdir"] as? String)
        #expect(temporary.hasPrefix(directory.file("hosts") + "/host-"))
        #expect(report["cwd"] as? String == temporary)
    }
    /// A gateway killed (SIGKILL, no shutdown of its own) while a plugin spins in a step leaves no
    /// plugin host process behind.
    @Test func aKilledGatewayLeavesNoHostProcessBehind() async throws {
        let directory = try TemporaryDirectory()
        _ = try await Self.compile(directory, "spinner", body: Misbehavior.spin.body)
        let gateway = try await ServedGateway(
            environment: ["WHARF_PLUGINS_DIRECTORY": directory.file("plugins")],
            devnet: 1,
            orchestrators: 1,
            in: directory
        )
        let body = try JSONSerialization.data(withJSONObject: ["preset": "spinner.run", "parameters": [:]])
        let started = try await gateway.send(.POST, "/v2/jobs", body: body, contentType: "application/json")
        #expect(started.status == 202)
        let hostFolder = URL(fileURLWithPath: directory.file(".wharf/plugin-hosts")).resolvingSymlinksInPath().path
        var hosts: [String] = []
        for _ in 0..<40 where hosts.isEmpty {
            try await Task.sleep(for: .milliseconds(50))
            hosts = Self.processes(workingIn: hostFolder)
        }
        #expect(!hosts.isEmpty, "a host process runs the step")
        try await gateway.kill()
        for _ in 0..<50 where !Self.processes(workingIn: hostFolder).isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        #expect(Self.processes(workingIn: hostFolder).isEmpty, "left behind: \(Self.processes(workingIn: hostFolder))")
    }

    /// The processes whose working directory is inside `folder`.
    static func processes(workingIn folder: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { entry in
            guard entry.allSatisfy(\.isNumber),
                let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd")
            else { return false }
            return cwd.hasPrefix(folder + "/")
        }
    }

}
