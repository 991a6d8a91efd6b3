import Foundation
public import Hummingbird
import WharfCore
import WharfPolicy

/// Tells analytics about every request to an API (`v1` or `v2`): its tenant and key once
/// authenticated, its pipeline (a `/v1` call), its status and how long its answer took to start.
/// Put first in the API's group, so it sees refusals and errors as their status.
struct AnalyticsRequestMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    let sink: any AnalyticsSink
    /// `v1` or `v2`.
    let api: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context: context, status: response.status.code, since: start)
            return response
        } catch {
            record(request, context: context, status: (error as? any HTTPResponseError)?.status.code ?? 500, since: start)
            throw error
        }
    }

    private func record(_ request: Request, context: Context, status: Int, since start: ContinuousClock.Instant) {
        var dimensions: [AnalyticsDimension: String] = [.api: api, .outcome: String(status)]
        if let principal = context.principal {
            dimensions[.tenant] = principal.tenantID
            dimensions[.key] = principal.keyPrefix
        }
        if api == "v1", let pipeline = Pipeline(rawValue: String(request.uri.path.dropFirst("/v1/".count))) {
            dimensions[.pipeline] = pipeline.rawValue
        }
        let elapsed = ContinuousClock.now - start
        sink.record(
            AnalyticsEvent(
                fact: .requests,
                at: Date(),
                dimensions: dimensions,
                succeeded: status < 400,
                latencyMilliseconds: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            )
        )
    }
}
