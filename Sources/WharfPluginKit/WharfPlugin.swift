public import Foundation
@_exported public import WharfPluginABI

/// A Wharf plugin written in Swift: its manifest and its code steps.
///
/// Implement it, then export the C entry point with one declaration:
///
/// ```swift
/// @_cdecl("wharf_plugin_entry_v1")
/// public func wharfPluginEntry() -> UnsafePointer<wharf_plugin_v1> { exportPlugin(MyPlugin.self) }
/// ```
public protocol WharfPlugin {
    /// What the plugin contributes.
    static var manifest: PluginManifest { get }

    /// Runs the code step `step` on `input` (the JSON the preset gives the step) and returns its
    /// JSON output. Throw ``PluginError`` to fail with a status and a message; any other error fails
    /// the step with its description.
    static func runStep(_ step: String, input: Data, host: PluginHost) throws -> Data
}

/// A failure a code step reports to the host.
public struct PluginError: Error, Sendable {
    public var status: wharf_status
    public var message: String

    public init(_ status: wharf_status, _ message: String) {
        self.status = status
        self.message = message
    }

    /// The input is not what the step accepts.
    public static func invalidInput(_ message: String) -> PluginError { PluginError(WHARF_STATUS_INVALID_ARGUMENT, message) }
}

/// What the host offers a running code step: logging and the job's artifacts.
public struct PluginHost {
    let api: UnsafePointer<wharf_host_api_v1>

    /// Writes a line to the gateway's log, tagged with the job and step.
    public func log(_ level: wharf_log_level, _ message: String) {
        message.withCString { api.pointee.log(api.pointee.context, level, $0) }
    }

    /// Reads an artifact of the running job: an input file or an earlier step's output.
    /// - Throws: ``PluginError`` with the host's status (not found, …).
    public func readArtifact(_ name: String) throws -> Data {
        var buffer = wharf_buffer(data: nil, length: 0)
        let status = name.withCString { api.pointee.read_artifact(api.pointee.context, $0, &buffer) }
        guard status == WHARF_STATUS_OK else { throw PluginError(status, "the host could not read artifact '\(name)'") }
        defer { api.pointee.free_buffer(api.pointee.context, buffer) }
        guard let data = buffer.data else { return Data() }
        return Data(bytes: data, count: buffer.length)
    }

    /// Stores an artifact of the running job.
    /// - Throws: ``PluginError`` when the host refuses it (bad or duplicate name).
    public func writeArtifact(_ name: String, contentType: String, data: Data) throws {
        let status = data.withUnsafeBytes { raw in
            name.withCString { cName in
                contentType.withCString { cType in
                    api.pointee.write_artifact(
                        api.pointee.context,
                        cName,
                        cType,
                        wharf_bytes(data: raw.bindMemory(to: UInt8.self).baseAddress, length: raw.count)
                    )
                }
            }
        }
        guard status == WHARF_STATUS_OK else { throw PluginError(status, "the host refused artifact '\(name)'") }
    }
}
