// Swift 6.3.1 on Linux x86_64: `swift build -c release && .build/release/Repro` dies within a second
// (SIGSEGV in swift_retain, or "pure virtual method called" from AsyncTask::completeFuture), every run.
// `swift build && .build/debug/Repro` prints "done". So does the release build with the one-line
// change marked below: bind the awaited value before building the returned tuple.
struct Failure: Error { var message: String }
struct Offer { var url: String; var prices: [Int] }

func fetch(_ n: Int) async throws -> Offer {
    await Task.yield()
    if n.isMultiple(of: 2) { throw Failure(message: "refused \(n)") }
    return Offer(url: "https://orchestrator-\(n).example:8935", prices: [n])
}

for round in 0..<20_000 {
    var tasks: [Task<(String, Result<Offer, any Error>), Never>] = []
    for n in 0..<8 {
        let key = "orchestrator-number-\(n)"
        tasks.append(
            Task {
                // Miscompiled: a `try await` nested in the value a `do` block returns.
                do { return (key, .success(try await fetch(round + n))) } catch { return (key, .failure(error)) }
                // Compiled correctly:
                // do { let offer = try await fetch(round + n); return (key, .success(offer)) } catch { return (key, .failure(error)) }
            }
        )
    }
    for task in tasks { _ = await task.value }
}
print("done")
