import Foundation

/// Runs the real `wharf` executable, built next to the test binary (override with `WHARF_TEST_BINARY`).
enum WharfProcess {
    static var executable: String {
        if let override = ProcessInfo.processInfo.environment["WHARF_TEST_BINARY"] { return override }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent("wharf").path
    }

    /// Runs `wharf arguments…` in `directory` to completion.
    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws -> ProgramOutput {
        try await Programs.run(executable, arguments, in: directory, environment: settings(environment))
    }

    /// Starts `wharf arguments…` in `directory` in the background.
    static func start(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws -> ChildProcess {
        try await ChildProcess(executable, arguments, in: directory, environment: settings(environment))
    }

    /// `environment` over the test's own, without any `WHARF_…` setting of the test's.
    private static func settings(_ environment: [String: String]) -> [String: String?] {
        var settings: [String: String?] = [:]
        for name in ProcessInfo.processInfo.environment.keys where name.hasPrefix("WHARF_") { settings[name] = .some(nil) }
        for (name, value) in environment { settings[name] = value }
        return settings
    }
}

/// A TCP port on the loopback interface that nothing listens on (bound to port 0, then closed): for
/// tests of refused connections and of a server restarted on the same port. Other servers in tests
/// bind port 0 themselves and report the port they got.
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
