import Foundation

/// Runs the real `wharf` executable, built next to the test binary (override with `WHARF_TEST_BINARY`).
struct WharfProcess {
    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    static var executable: String {
        if let override = ProcessInfo.processInfo.environment["WHARF_TEST_BINARY"] { return override }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent("wharf").path
    }

    /// Runs `wharf arguments…` in `directory` to completion, off the cooperative pool.
    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws -> Result {
        try await offloaded { try runBlocking(arguments, in: directory, environment: environment) }
    }

    private static func runBlocking(_ arguments: [String], in directory: String, environment: [String: String]) throws -> Result {
        let process = makeProcess(arguments, in: directory, environment: environment)
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self)
        )
    }

    /// A configured, not yet started process; the caller wires its pipes.
    static func makeProcess(_ arguments: [String], in directory: String, environment: [String: String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var merged = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WHARF_") }
        merged.merge(environment) { _, new in new }
        process.environment = merged
        return process
    }
}

/// A free TCP port on the loopback interface, found by binding port 0 and closing.
func freeLoopbackPort() throws -> Int {
    let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socketDescriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(socketDescriptor, socketAddress, length) == 0 && getsockname(socketDescriptor, socketAddress, &length) == 0
        }
    }
    guard bound else { throw CocoaError(.fileWriteUnknown) }
    return Int(UInt16(bigEndian: address.sin_port))
}
