extension Result where Failure == any Error {
    /// The outcome of `body`, its value or the error it threw, as a value.
    ///
    /// Use it wherever a task's closure would otherwise return a value built around a `try await`
    /// inside a `do` block. Swift 6.3.1 on Linux miscompiles such closures in optimized builds: a
    /// task-group child or `Task` whose `do` block returns, say, `(address, .success(try await f()))`
    /// corrupts its own result, and the gateway crashed with "pure virtual method called" or a
    /// segmentation fault in `swift_retain` once the task ended. Binding the awaited value first, as
    /// here, compiles correctly; `docs/RELIABILITY.md` has the reproduction and the runs behind this.
    @inline(never)
    public init(catching body: () async throws -> Success) async {
        do {
            let value = try await body()
            self = .success(value)
        } catch {
            self = .failure(error)
        }
    }
}
