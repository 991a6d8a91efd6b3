import ArgumentParser
import Foundation
import Logging
import WharfCore
import WharfPolicy
import WharfServer
import WharfStore

/// Options every command that reads the configuration accepts.
struct CommonOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Configuration file to read.",
            discussion: "Defaults to wharf.yaml in the working directory when it exists.",
            valueName: "path"
        )
    )
    var config: String?

    /// Loads the configuration, printing every problem and exiting with status 78 (EX_CONFIG) when it is bad.
    func loadConfiguration() async throws -> WharfConfiguration {
        do {
            return try await WharfConfiguration.load(filePath: config, environment: ProcessInfo.processInfo.environment)
        } catch let error as ConfigurationError {
            printError("\(error)")
            throw ExitCode(78)
        }
    }

    /// Opens the store named by the configuration and applies pending migrations.
    func openStore(_ configuration: WharfConfiguration) async throws -> AnyGatewayStore {
        try await failing {
            let store = try makeStore(configuration)
            _ = try await store.migrate()
            return store
        }
    }
}

/// The operator at this terminal, as audit entries name them: `cli:<$USER>` (or `$LOGNAME`, or the
/// account the process runs as).
var commandLineActor: AuditActor {
    let environment = ProcessInfo.processInfo.environment
    let named = [environment["USER"], environment["LOGNAME"]].compactMap { $0 }.first { !$0.isEmpty }
    let user = named ?? ProcessInfo.processInfo.userName
    return .commandLine(user: user.isEmpty ? "unknown" : user)
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
}

/// Writes a line to standard error (messages for people, so stdout stays clean for scripts).
func printNote(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}

/// Runs `body`, turning a ``WharfError`` into a one-line message and exit status 1.
func failing<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as WharfError {
        printError(error.description)
        throw ExitCode.failure
    }
}

/// Installs the structured log handler for the whole process. Only the executable does this.
func bootstrapLogging(_ configuration: WharfConfiguration, level: Logger.Level? = nil) {
    LoggingSystem.bootstrap { label in
        var handler = StructuredLogHandler(label: label, format: configuration.logFormat, level: level ?? configuration.logLevel)
        // Inside a trace, each line names it (`trace_id`, `span_id`).
        if configuration.tracing != nil { handler.metadataProvider = WharfTracing.loggingMetadataProvider }
        return handler
    }
}

/// Writes a line to standard output at once. `print` buffers when standard output is a pipe, so a
/// script or test reading a long-running command's output would see nothing until it exits.
func printNow(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
