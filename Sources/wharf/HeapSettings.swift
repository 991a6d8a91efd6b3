import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How the gateway asks glibc's allocator to behave, set once at start-up.
enum HeapSettings {
    /// Pins glibc's mmap threshold at its default (128 KiB). Left dynamic, glibc raises it to the size
    /// of the largest block freed (a plugin's buffer, a whole request of a `/v1` call) and its trim
    /// threshold with it, after which streamed chunks come from per-thread heaps that keep what is
    /// freed: measured, twenty 1 GiB downloads after one job took the gateway from 83 to 336–604 MB,
    /// and with the threshold pinned to 86 MB (docs/PERFORMANCE.md, "Memory under big files"). An
    /// operator's own `GLIBC_TUNABLES` malloc settings are left as given.
    static func apply(environment: [String: String] = ProcessInfo.processInfo.environment) {
        #if canImport(Glibc)
            guard !(environment["GLIBC_TUNABLES"] ?? "").contains("glibc.malloc.") else { return }
            // `<malloc.h>` is not in the Glibc module: the function is looked up, the option is its
            // documented value there (`M_MMAP_THRESHOLD`).
            typealias MallocOption = @convention(c) (CInt, CInt) -> CInt
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
            let mallopt = unsafeBitCast(symbol, to: MallocOption.self)
            let mmapThreshold: CInt = -3
            _ = mallopt(mmapThreshold, 128 * 1024)
        #endif
    }
}
