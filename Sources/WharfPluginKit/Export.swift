import Foundation

/// The plugin this library exports; one per library, set by ``exportPlugin(_:)``.
nonisolated(unsafe) private var exported: (any WharfPlugin.Type)?
nonisolated(unsafe) private var vtable: UnsafeMutablePointer<wharf_plugin_v1>?
private let exportLock = NSLock()

/// Builds the C vtable for `plugin` (once) and returns it: call it from the library's
/// `wharf_plugin_entry_v1` function.
public func exportPlugin(_ plugin: any WharfPlugin.Type) -> UnsafePointer<wharf_plugin_v1> {
    exportLock.lock()
    defer { exportLock.unlock() }
    if let vtable { return UnsafePointer(vtable) }
    exported = plugin
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let manifest = (try? encoder.encode(plugin.manifest)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    let table = UnsafeMutablePointer<wharf_plugin_v1>.allocate(capacity: 1)
    table.initialize(
        to: wharf_plugin_v1(
            abi_version: WHARF_PLUGIN_ABI_VERSION,
            struct_size: UInt32(MemoryLayout<wharf_plugin_v1>.size),
            manifest_json: UnsafePointer(strdup(manifest)),
            run_step: runStepThunk,
            free_buffer: freeBufferThunk
        )
    )
    vtable = table
    return UnsafePointer(table)
}

/// Copies bytes into a buffer this library owns (released by ``freeBufferThunk``).
private func makeBuffer(_ data: Data) -> wharf_buffer {
    let memory = UnsafeMutablePointer<UInt8>.allocate(capacity: max(data.count, 1))
    data.copyBytes(to: memory, count: data.count)
    return wharf_buffer(data: memory, length: data.count)
}

private let freeBufferThunk: @convention(c) (wharf_buffer) -> Void = { buffer in
    buffer.data?.deallocate()
}

private let runStepThunk:
    @convention(c) (
        UnsafePointer<CChar>?, wharf_bytes, UnsafePointer<wharf_host_api_v1>?, UnsafeMutablePointer<wharf_buffer>?,
        UnsafeMutablePointer<wharf_buffer>?
    ) -> wharf_status = { step, input, host, output, errorMessage in
        func fail(_ status: wharf_status, _ message: String) -> wharf_status {
            errorMessage?.pointee = makeBuffer(Data(message.utf8))
            return status
        }
        guard let step, let host, let output else { return fail(WHARF_STATUS_INVALID_ARGUMENT, "missing step, host or output") }
        guard let plugin = exported else { return fail(WHARF_STATUS_FAILED, "no plugin exported") }
        let name = String(cString: step)
        let bytes = input.data.map { Data(bytes: $0, count: input.length) } ?? Data()
        do {
            output.pointee = makeBuffer(try plugin.runStep(name, input: bytes, host: PluginHost(api: host)))
            return WHARF_STATUS_OK
        } catch let error as PluginError {
            return fail(error.status, error.message)
        } catch {
            return fail(WHARF_STATUS_FAILED, "\(error)")
        }
    }
