import ServiceLifecycle
import WharfPlugins

/// Stops the plugins' host processes when the gateway shuts down. It is placed before the job
/// services, so it stops after them: the jobs' steps drain first.
struct PluginHostsService: Service {
    let catalog: PluginCatalog

    func run() async throws {
        try? await gracefulShutdown()
        catalog.shutdown()
    }
}
