import Foundation
public import WharfCore
import WharfModel

/// The gateway's caps on steps running at once, per kind, over every job and tenant: what keeps one
/// tenant's burst of jobs from starting more ffmpeg processes, plugin calls or orchestrator requests
/// than the machine (or its memory: a network step may hold its request body) can carry.
public struct StepCaps: Sendable {
    /// ffmpeg processes (`jobs.max_concurrent_media_steps`).
    public let media: ConcurrencyLimit
    /// Plugin code steps (`jobs.max_concurrent_code_steps`).
    public let code: ConcurrencyLimit
    /// Orchestrator requests of preset steps (`jobs.max_concurrent_network_steps`).
    public let network: ConcurrencyLimit

    public init(media: Int = StepCaps.defaultMedia, code: Int = StepCaps.defaultCode, network: Int = StepCaps.defaultNetwork) {
        self.media = ConcurrencyLimit(width: media)
        self.code = ConcurrencyLimit(width: code)
        self.network = ConcurrencyLimit(width: network)
    }

    /// One ffmpeg per core: each uses several threads already.
    public static var defaultMedia: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
    /// Two plugin calls per core.
    public static var defaultCode: Int { max(2, 2 * ProcessInfo.processInfo.activeProcessorCount) }
    /// Orchestrator requests mostly wait; the cap bounds the request bodies held at once.
    public static let defaultNetwork = 64

    func limit(for kind: StepKind) -> ConcurrencyLimit {
        switch kind {
        case .media: media
        case .code: code
        case .network: network
        }
    }
}
