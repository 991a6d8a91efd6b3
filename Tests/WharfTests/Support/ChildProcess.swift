import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// What a program printed and how it ended.
struct ProgramOutput {
    /// The exit status, or 128 + the signal that ended it.
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// The tests' one way to run programs, on swift-subprocess: to completion with the output collected
/// (``run(_:_:in:environment:input:)``), or in the background (``ChildProcess``).
enum Programs {
    /// Runs `program` (a path, or a name looked up on `PATH`) to completion.
    /// - Parameters:
    ///   - environment: Added to the test's environment; `nil` values remove a variable.
    ///   - input: Written to the program's standard input, which is then closed.
    static func run(
        _ program: String,
        _ arguments: [String],
        in directory: String? = nil,
        environment: [String: String?] = [:],
        input: String = ""
    ) async throws -> ProgramOutput {
        let result = try await Subprocess.run(
            executable(program),
            arguments: Arguments(arguments),
            environment: Self.environment(environment),
            workingDirectory: directory.map { FilePath($0) },
            input: .string(input),
            output: .string(limit: 64 << 20),
            error: .string(limit: 64 << 20)
        )
        return ProgramOutput(
            status: status(result.terminationStatus),
            standardOutput: result.standardOutput,
            standardError: result.standardError
        )
    }

    static func executable(_ program: String) -> Executable {
        program.contains("/") ? .path(FilePath(program)) : .name(program)
    }

    /// The test's environment with `changes` applied.
    static func environment(_ changes: [String: String?]) -> Subprocess.Environment {
        var updates: [Subprocess.Environment.Key: String?] = [:]
        for (name, value) in changes {
            if let key = Subprocess.Environment.Key(rawValue: name) { updates[key] = value }
        }
        return .inherit.updating(updates)
    }

    static func status(_ termination: TerminationStatus) -> Int32 {
        switch termination {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}

/// A program running in the background for a test: its standard output and error are read line by
/// line while it runs (so it never blocks on a full pipe), a test waits for the line it needs, and
/// the program is stopped with a signal.
final class ChildProcess: Sendable {
    /// Which of the program's outputs a line came from.
    enum Stream: Sendable {
        case output
        case error
    }

    private let pid: pid_t
    private let lines: Lines
    /// Set once the program has ended and its output is read.
    private let ended: EndFlag
    private let exit: Task<Int32, any Error>

    /// Starts `program` (a path, or a name on `PATH`) and returns once it runs.
    /// - Parameter environment: Added to the test's environment; `nil` values remove a variable.
    init(_ program: String, _ arguments: [String], in directory: String, environment: [String: String?] = [:]) async throws {
        let (started, reportStart) = AsyncStream.makeStream(of: pid_t.self)
        let lines = Lines()
        let ended = EndFlag()
        self.lines = lines
        self.ended = ended
        exit = Task {
            defer {
                reportStart.finish()
                ended.set()
            }
            let result = try await Subprocess.run(
                Programs.executable(program),
                arguments: Arguments(arguments),
                environment: Programs.environment(environment),
                workingDirectory: FilePath(directory),
                input: .none,
                output: .sequence,
                error: .sequence
            ) { execution in
                reportStart.yield(execution.processIdentifier.value)
                reportStart.finish()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await line in execution.standardOutput.strings() { lines.append(line, to: .output) }
                    }
                    group.addTask {
                        for try await line in execution.standardError.strings() { lines.append(line, to: .error) }
                    }
                    try await group.waitForAll()
                }
            }
            return Programs.status(result.terminationStatus)
        }
        var iterator = started.makeAsyncIterator()
        guard let pid = await iterator.next() else {
            _ = try await exit.value  // The launch failed: its error.
            throw ChildProcessFailure("\(program) ended before it started")
        }
        self.pid = pid
    }

    /// Waits until the program prints a line matching `predicate`, at most `limit`.
    /// - Throws: ``ChildProcessFailure`` with the program's last lines when none came in time.
    func line(on stream: Stream = .error, within limit: Duration = .seconds(30), where predicate: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + limit
        var seen = 0
        while true {
            let finished = ended.isSet
            let fresh = lines.all(on: stream).dropFirst(seen)
            seen += fresh.count
            if let found = fresh.first(where: predicate) { return found }
            if finished || ContinuousClock.now > deadline {
                throw ChildProcessFailure("no such line within \(limit); last lines:\n\(lastLines(on: stream).joined(separator: "\n"))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The last lines the program printed on `stream`.
    func lastLines(on stream: Stream, count: Int = 20) -> [String] {
        Array(lines.all(on: stream).suffix(count))
    }

    /// Whether the program is still running.
    var isRunning: Bool { !ended.isSet }

    /// Everything the program printed on `stream` so far, one line per line.
    func printed(on stream: Stream) -> String {
        lines.all(on: stream).joined(separator: "\n")
    }

    /// Sends `signal` (SIGTERM by default); returns at once.
    func signal(_ signal: Int32 = SIGTERM) {
        if !ended.isSet { kill(pid, signal) }
    }

    /// Waits for the program to end. - Returns: Its status (128 + the signal that ended it).
    func waitForExit() async throws -> Int32 {
        try await exit.value
    }

    /// Stops the program with SIGTERM and waits for it to end. - Returns: Its status.
    func stop() async throws -> Int32 {
        signal()
        return try await waitForExit()
    }
}

/// The lines a background program printed, per stream.
private final class Lines: Sendable {
    private let value = Mutex<(output: [String], error: [String])>(([], []))

    func append(_ line: String, to stream: ChildProcess.Stream) {
        value.withLock { lines in
            switch stream {
            case .output: lines.output.append(line)
            case .error: lines.error.append(line)
            }
        }
    }

    func all(on stream: ChildProcess.Stream) -> [String] {
        value.withLock { stream == .output ? $0.output : $0.error }
    }
}

/// Set once, when a background program has ended.
private final class EndFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// A background program did not do what a test waited for.
struct ChildProcessFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
