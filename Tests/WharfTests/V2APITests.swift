import Foundation
import NIOHTTP1
import Testing

/// `/v2` through HTTP against the real `wharf serve`: the key, presets from a loaded plugin and the
/// built-in ones, problem documents, and the OpenAPI document.
@Suite(.layer(.endToEnd), .needs("python3"), .timeLimit(.minutes(2))) struct V2APITests {
    @Test func presetsKeyAndProblemsThroughHTTP() async throws {
        let directory = try TemporaryDirectory()
        let plugins = directory.file("plugins")
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try PluginTests.templateLibrary, toPath: plugins + "/template.so")
        let gateway = try await ServedGateway(environment: ["WHARF_PLUGINS_DIRECTORY": plugins], devnet: 1, orchestrators: 1, in: directory)
        defer { gateway.stop() }

        let list = try await gateway.send(.GET, "/v2/presets")
        #expect(list.status == 200)
        #expect(list.headers.first(name: "Wharf-Api-Version") == "v2")
        let presets = try #require((try JSONSerialization.jsonObject(with: list.body) as? [String: Any])?["data"] as? [[String: Any]])
        let names = presets.compactMap { $0["name"] as? String }
        #expect(names == names.sorted())
        #expect(names.contains("template.greet") && names.contains("pipeline.text-to-image") && names.contains("pipeline.llm"))

        let one = try await gateway.send(.GET, "/v2/presets/template.greet")
        let preset = try #require(try JSONSerialization.jsonObject(with: one.body) as? [String: Any])
        #expect((preset["source"] as? [String: Any])?["kind"] as? String == "plugin")
        #expect((preset["parameters"] as? [String: Any])?["required"] as? [String] == ["name"])
        #expect((preset["steps"] as? [[String: Any]])?.first?["kind"] as? String == "code")

        let missing = try await gateway.send(.GET, "/v2/presets/nope.nothing")
        #expect(missing.status == 404)
        #expect(missing.headers.first(name: "Content-Type") == "application/problem+json")
        let problem = try #require(try JSONSerialization.jsonObject(with: missing.body) as? [String: Any])
        #expect(problem["type"] as? String == "urn:wharf:problem:preset-not-found")
        #expect(problem["request_id"] as? String == missing.headers.first(name: "X-Request-Id"))

        let anonymous = try await gateway.send(.GET, "/v2/presets", authorized: false)
        #expect(anonymous.status == 401)
        #expect(anonymous.headers.first(name: "Content-Type") == "application/problem+json")

        let key = try await gateway.send(.GET, "/v2/key")
        let described = try JSONSerialization.jsonObject(with: key.body) as? [String: Any]
        #expect(described?["prefix"] as? String == String(gateway.key.split(separator: "_")[1]))

        let specification = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("openapi/v2.yaml")
        let served = try await gateway.send(.GET, "/v2/openapi.yaml", authorized: false)
        let document = try Data(contentsOf: specification)
        #expect(served.status == 200)
        #expect(served.body == document)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support/openapi_validate.py").path
        let validation = try await runTool("python3", [script, specification.path])
        #expect(validation.status == 0, "\(validation.output)")
    }
}
