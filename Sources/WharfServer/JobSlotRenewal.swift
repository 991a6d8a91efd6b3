import AsyncAlgorithms
import ServiceLifecycle
import WharfCore
import WharfPolicy

/// Keeps this node's job slots and budget holds in a shared store alive: renewed every `interval`
/// (a third of their lifetime), so they lapse only when the node stops.
struct JobSlotRenewal<Store: LimitsStore & SpendStore & PriceBookStore>: Service {
    let policy: PolicyEngine<Store>
    let interval: Duration

    func run() async throws {
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await policy.renewSharedJobSlots()
        }
    }
}
