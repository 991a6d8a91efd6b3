import Synchronization
import WharfServer

/// The development banner of `wharf serve --dev`: the URLs (with the ports the listeners got) and
/// the key, printed once both listeners listen and the key exists.
final class DevelopmentBanner: Sendable {
    private struct State {
        var ports: [ListenerRole: Int] = [:]
        var key: String?
        var printed = false
    }

    private let configuration: WharfConfiguration
    private let state = Mutex(State())

    init(configuration: WharfConfiguration) {
        self.configuration = configuration
    }

    func listening(_ role: ListenerRole, port: Int) {
        update { $0.ports[role] = port }
    }

    func show(key: String) {
        update { $0.key = key }
    }

    private func update(_ change: (inout State) -> Void) {
        let banner = state.withLock { state -> String? in
            change(&state)
            guard !state.printed, let key = state.key, let publicPort = state.ports[.public], let adminPort = state.ports[.admin]
            else { return nil }
            state.printed = true
            return text(key: key, publicPort: publicPort, adminPort: adminPort)
        }
        if let banner { printNow(banner) }
    }

    private func text(key token: String, publicPort: Int, adminPort: Int) -> String {
        let publicURL = "http://\(configuration.publicListener.host):\(publicPort)"
        let adminURL = "http://\(configuration.adminListener.host):\(adminPort)"
        return """

            Wharf is starting (development mode).
              public API  \(publicURL)
              admin       \(adminURL)  (/metrics, /healthz, /readyz)
              console     \(adminURL)/console  (sign in with the API key below)
              API key     \(token)
            Try:  curl -H "Authorization: Bearer \(token)" -H 'Content-Type: application/json' \\
                    -d '{"prompt":"a harbour at dawn","model_id":""}' \(publicURL)/v1/text-to-image
                  curl -H "Authorization: Bearer \(token)" \(publicURL)/v2/key
            Orchestrators (\(configuration.devnetOrchestrators) on the embedded devnet, \(configuration.orchestrators.count) configured):
                  curl -H "Authorization: Bearer \(token)" \(adminURL)/admin/v1/orchestrators

            """
    }
}
