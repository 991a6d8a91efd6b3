import Foundation
public import WharfPluginKit

/// Thumbnails for a video: a frame picked on the gateway and enhanced on the Livepeer network
/// (upscale), a contact sheet made with ffmpeg, and a JSON description a CMS can import.
enum ThumbnailStudioPlugin: WharfPlugin {
    static let manifest = PluginManifest(
        name: "thumbnails",
        version: "1.0.0",
        description: "Posters and contact sheets for videos.",
        presets: [
            .init(
                name: "thumbnails.poster",
                description: "A frame at `at` seconds, upscaled on the network, a 3×3 contact sheet, and thumbnails.json describing both.",
                parameters:
                    #"{"type":"object","properties":{"at":{"type":"string"},"prompt":{"type":"string"}},"additionalProperties":false}"#,
                steps: [
                    .init(id: "frame", kind: .media, uses: "extract-frame", with: ["at": "{{at}}", "width": "512"]),
                    .init(id: "poster", kind: .network, uses: "upscale", after: ["frame"], with: ["prompt": "{{prompt}}"]),
                    .init(id: "sheet", kind: .media, uses: "contact-sheet", with: ["columns": "3", "rows": "3", "width": "320"]),
                    .init(id: "describe", kind: .code, uses: "describe", after: ["poster", "sheet"]),
                ],
                examples: [.init(parameters: ["at": "0.5"], input: "video")]
            )
        ],
        codeSteps: [
            .init(
                name: "describe",
                description: "Writes thumbnails.json: the poster and sheet artifacts with their sizes and image dimensions."
            )
        ]
    )

    static func runStep(_ step: String, input: Data, host: PluginHost) throws -> Data {
        guard step == "describe" else { throw PluginError(WHARF_STATUS_NOT_FOUND, "no code step '\(step)'") }
        let document = (try? JSONSerialization.jsonObject(with: input) as? [String: Any]) ?? [:]
        let names = document["artifacts"] as? [String] ?? []
        var images: [[String: Any]] = []
        for name in names where name.hasSuffix(".png") && !name.hasPrefix("input.") {
            let data = try host.readArtifact(name)
            var entry: [String: Any] = [
                "artifact": name, "bytes": data.count,
                "role": name.hasPrefix("sheet-") ? "contact-sheet" : name.hasPrefix("poster-") ? "poster" : "frame",
            ]
            if let (width, height) = PNG.dimensions(data) {
                entry["width"] = width
                entry["height"] = height
            }
            images.append(entry)
        }
        guard images.contains(where: { $0["role"] as? String == "poster" }) else {
            throw PluginError.invalidInput("describe needs the poster made by an earlier step")
        }
        let description = try JSONSerialization.data(withJSONObject: ["images": images], options: [.sortedKeys, .prettyPrinted])
        try host.writeArtifact("thumbnails.json", contentType: "application/json", data: description)
        host.log(WHARF_LOG_INFO, "described \(images.count) image(s)")
        return try JSONSerialization.data(withJSONObject: ["images": images.count], options: [.sortedKeys])
    }
}

/// Reads a PNG's size from its header.
enum PNG {
    static func dimensions(_ data: Data) -> (Int, Int)? {
        let bytes = [UInt8](data.prefix(24))
        guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
            bytes[12..<16] == [0x49, 0x48, 0x44, 0x52]
        else { return nil }
        func word(_ offset: Int) -> Int { bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (word(16), word(20))
    }
}

/// The library's one exported symbol.
@_cdecl("wharf_plugin_entry_v1")
public func wharfPluginEntry() -> UnsafePointer<wharf_plugin_v1> {
    exportPlugin(ThumbnailStudioPlugin.self)
}
