import Foundation
public import Hummingbird
import Logging
public import Metrics
import Synchronization

/// Counts requests and records their latency, labelled by listener, route, method and status.
///
/// Metrics: `http_server_requests_total` (counter) and `http_server_request_duration_seconds`
/// (histogram). The route is the matched route pattern (`/v2/key`), never the raw path, so the
/// number of series stays bounded; requests no route matches are labelled `NotFound`.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let factory: any MetricsFactory
    private let listener: String
    private let cache: Cache

    /// - Parameters:
    ///   - factory: Where the metrics are created; one Prometheus registry per gateway.
    ///   - listener: The `listener` label (`public` or `admin`).
    public init(factory: any MetricsFactory, listener: String) {
        self.factory = factory
        self.listener = listener
        self.cache = Cache()
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let series = Series(
            listener: listener,
            route: context.endpointPath ?? "unmatched",
            method: request.method.rawValue,
            status: response.status.code
        )
        let instruments = cache.instruments(for: series, factory: factory)
        instruments.counter.increment()
        instruments.timer.recordInterval(since: start)
        return response
    }

    struct Series: Hashable {
        var listener: String
        var route: String
        var method: String
        var status: Int
    }

    struct Instruments: Sendable {
        var counter: Counter
        var timer: Metrics.Timer
    }

    final class Cache: Sendable {
        private let storage = Mutex<[Series: Instruments]>([:])

        func instruments(for series: Series, factory: any MetricsFactory) -> Instruments {
            storage.withLock { cache in
                if let found = cache[series] { return found }
                let dimensions = [
                    ("listener", series.listener), ("route", series.route), ("method", series.method), ("status", String(series.status)),
                ]
                let made = Instruments(
                    counter: Counter(label: "http_server_requests_total", dimensions: dimensions, factory: factory),
                    timer: Metrics.Timer(label: "http_server_request_duration_seconds", dimensions: dimensions, factory: factory)
                )
                cache[series] = made
                return made
            }
        }
    }
}

extension Metrics.Timer {
    fileprivate func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
