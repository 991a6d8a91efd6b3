import NIOCore
import Synchronization

/// The connections a listener holds open, against its most (`http.max_connections`).
final class ConnectionCount: Sendable {
    /// Connections open now.
    private let open = Atomic<Int>(0)
    /// The most that may be open at once.
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection in. - Returns: Whether it fits under the limit (when not, it is
    /// not counted).
    func enter() -> Bool {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        guard now <= limit else {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Connections open now (for tests and metrics).
    var current: Int { open.load(ordering: .relaxed) }
}

/// Closes a new connection at once when its listener already holds as many as it may, so a flood
/// of connections (each idle, or sending its request a byte at a time) cannot use up the
/// process's file descriptors. Idle and slow connections are closed by the listener's idle
/// timeout (a request head must arrive whole within it).
final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    // Reads pass through untouched.
    typealias InboundIn = NIOAny

    private let count: ConnectionCount
    private var counted = false

    init(count: ConnectionCount) {
        self.count = count
    }

    func handlerAdded(context: ChannelHandlerContext) {
        counted = count.enter()
        if !counted { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if counted { count.leave() }
        counted = false
    }
}
