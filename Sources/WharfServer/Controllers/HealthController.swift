import Foundation
public import Hummingbird
import Logging
public import WharfCore

/// `GET /healthz` (the process is up) and `GET /readyz` (the store answers and is migrated).
///
/// Both are unauthenticated so that load balancers and orchestrators can probe them. Why the store
/// is not ready (its error text, paths) is said on the admin listener only.
public struct HealthController<Store: StoreLifecycle>: Sendable {
    private let store: Store
    private let showsDetail: Bool

    /// - Parameter showsDetail: Whether `/readyz` says why the store is not ready (the admin
    ///   listener); the public listener says only ready or not.
    public init(store: Store, showsDetail: Bool) {
        self.store = store
        self.showsDetail = showsDetail
    }

    public func addRoutes(to router: Router<WharfRequestContext>) {
        router.get("healthz") { _, _ in
            Self.json(.ok, ["status": "ok"])
        }
        router.get("readyz") { _, _ in
            let readiness = await store.readiness()
            var body = [
                "status": readiness.isReady ? "ready" : "not ready",
                "store": readiness.reachable ? "reachable" : "unreachable",
                "migrations": readiness.migrated ? "applied" : "pending",
            ]
            if showsDetail, let detail = readiness.detail { body["detail"] = detail }
            return Self.json(readiness.isReady ? .ok : .serviceUnavailable, body)
        }
    }

    static func json(_ status: HTTPResponse.Status, _ body: [String: String]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
