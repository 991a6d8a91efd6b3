import Foundation
public import WharfPluginKit

/// The smallest useful Wharf plugin: one code step and one preset that runs it. Copy this folder to
/// start a plugin of your own (see docs/PLUGINS.md).
enum TemplatePlugin: WharfPlugin {
    static let manifest = PluginManifest(
        name: "template",
        version: "1.0.0",
        description: "A minimal plugin: greets someone and keeps the greeting as a text file; chains two network steps.",
        presets: [
            .init(
                name: "template.greet",
                description: "Writes a greeting for `name`.",
                parameters: #"{"type":"object","properties":{"name":{"type":"string","minLength":1}},"required":["name"]}"#,
                steps: [.init(id: "greet", kind: .code, uses: "greet")],
                examples: [.init(parameters: ["name": "Ada"])]
            ),
            .init(
                name: "template.storyboard",
                description:
                    "Draws a picture of `prompt`, then repaints it as `style`: two network steps, the second working on the first's image.",
                parameters:
                    #"{"type":"object","properties":{"prompt":{"type":"string","minLength":1},"style":{"type":"string","minLength":1}},"required":["prompt","style"]}"#,
                steps: [
                    .init(id: "sketch", kind: .network, uses: "text-to-image", with: ["prompt": "{{prompt}}"]),
                    .init(id: "paint", kind: .network, uses: "image-to-image", after: ["sketch"], with: ["prompt": "{{style}}"]),
                ],
                examples: [.init(parameters: ["prompt": "a harbour at dawn", "style": "watercolour"])]
            ),
        ],
        codeSteps: [
            .init(
                name: "greet",
                description: "Makes a greeting from {\"name\"}; stores it as greeting.txt.",
                examples: [
                    .init(
                        input: .object(["name": .string("Ada")]),
                        output: .object(["text": .string("Hello, Ada, from a Wharf plugin."), "artifact": .string("greeting.txt")])
                    )
                ]
            )
        ]
    )

    static func runStep(_ step: String, input: Data, host: PluginHost) throws -> Data {
        guard step == "greet" else { throw PluginError(WHARF_STATUS_NOT_FOUND, "no code step '\(step)'") }
        // In a preset the step gets {"parameters": {"name": …}, …}; called on its own, {"name": …}.
        let object = (try? JSONSerialization.jsonObject(with: input) as? [String: Any]) ?? [:]
        let parameters = object["parameters"] as? [String: Any] ?? object
        guard let name = parameters["name"] as? String, !name.isEmpty else {
            throw PluginError.invalidInput("greet needs the parameter name")
        }
        let greeting = "Hello, \(name), from a Wharf plugin."
        host.log(WHARF_LOG_INFO, "greeting \(name)")
        try host.writeArtifact("greeting.txt", contentType: "text/plain", data: Data(greeting.utf8))
        return try JSONSerialization.data(withJSONObject: ["text": greeting, "artifact": "greeting.txt"], options: [.sortedKeys])
    }
}

/// The library's one exported symbol.
@_cdecl("wharf_plugin_entry_v1")
public func wharfPluginEntry() -> UnsafePointer<wharf_plugin_v1> {
    exportPlugin(TemplatePlugin.self)
}
