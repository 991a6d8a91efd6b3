import Foundation
public import Hummingbird
import Logging
import WharfPolicy

/// Writes one log line per finished request: method, path, status, duration and peer.
public struct AccessLogMiddleware: RouterMiddleware {
    public typealias Context = WharfRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "http.method": .string(request.method.rawValue),
            "http.path": .string(request.uri.path),
            "http.status": .stringConvertible(response.status.code),
            "http.duration_ms": .string(String(format: "%.3f", milliseconds)),
        ]
        if let peer = context.peerAddress?.ipAddress { metadata["http.peer"] = .string(peer) }
        if let principal = context.principal {
            metadata["gw.tenant.id"] = .string(principal.tenantID)
            metadata["gw.key.prefix"] = .string(principal.keyPrefix)
        }
        context.logger.info("request", metadata: metadata)
        return response
    }
}
