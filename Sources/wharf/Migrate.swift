import ArgumentParser
import WharfCore
import WharfServer

/// `wharf migrate`: bring the store's schema up to date.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending database migrations and list them.",
        discussion: "Safe to run at any time: migrations already applied are skipped. `wharf serve` also migrates at start-up."
    )

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let configuration = try await options.loadConfiguration()
        try await failing {
            let store = try makeStore(configuration)
            let applied = try await store.migrate()
            if applied.isEmpty {
                print("\(store.location): up to date")
            } else {
                for migration in applied { print("applied \(migration)") }
                print("\(store.location): up to date")
            }
        }
    }
}
