import AsyncHTTPClient
import Foundation
public import Metrics
import WharfLivepeer
public import WharfRouting

/// The gateway's side of the Livepeer network, built from the configuration: the orchestrator pool
/// (trust on first use, or the configured CAs; the remote signer's credentials when on-chain) and the
/// router that runs steps on it. `wharf serve` and `wharf run` share it.
public struct NetworkStack: Sendable {
    public let pool: OrchestratorPool
    public let router: PipelineRouter

    /// - Throws: When `network.tls.ca_file` cannot be read.
    public init(configuration: WharfConfiguration, metrics: any MetricsFactory) throws {
        let pins = CertificatePins()
        let trust: OrchestratorClient.Trust
        if let caFile = configuration.orchestratorCAFile {
            trust = .certificateAuthorities(pem: Array(try Data(contentsOf: URL(fileURLWithPath: caFile))))
        } else {
            trust = .firstUse(pins)
        }
        let signer = configuration.remoteSignerURL.map { RemoteSigner(http: HTTPClient.shared, url: $0) }
        pool = OrchestratorPool(
            client: OrchestratorClient(trust: trust, timeout: configuration.probeTimeout, signer: signer),
            policy: configuration.routing,
            addresses: configuration.orchestrators,
            regions: configuration.orchestratorRegions,
            regionDistances: configuration.regionDistances
        )
        router = PipelineRouter(
            pool: pool,
            jobs: AIJobClient(http: AIJobClient.orchestratorHTTP),
            pins: configuration.orchestratorCAFile == nil ? pins : nil,
            policy: configuration.routing,
            metrics: metrics,
            signer: signer
        )
    }
}
