import Foundation
import Testing

/// The three layers of the suite, selected with `WHARF_TESTS` (the Makefile's `test-unit` and
/// `test-integration`; `make test` runs them all):
/// - ``unit``: in-process and fast: values, the store on a temporary SQLite file, in-memory HTTP;
/// - ``integration``: real servers in-process on loopback (the gateway's listeners, devnet
///   orchestrators, HTTP peers);
/// - ``endToEnd``: the `wharf` binary run as an operator runs it, and outside tools driving it (the
///   Livepeer Python SDK, schemathesis, ffmpeg, protoc).
enum TestLayer: Int, Comparable, Sendable {
    case unit
    case integration
    case endToEnd

    /// The deepest layer this run includes: `WHARF_TESTS=unit` or `integration`; anything else, all.
    static var selected: TestLayer {
        switch ProcessInfo.processInfo.environment["WHARF_TESTS"] {
        case "unit": .unit
        case "integration": .integration
        default: .endToEnd
        }
    }

    static func < (left: TestLayer, right: TestLayer) -> Bool { left.rawValue < right.rawValue }
}

extension Trait where Self == ConditionTrait {
    /// Runs the suite when its layer is selected (``TestLayer/selected``).
    static func layer(_ layer: TestLayer) -> Self {
        .enabled(if: layer <= TestLayer.selected, "a deeper layer than WHARF_TESTS selects")
    }

    /// Runs the suite only where `tool` is on the `PATH`. In CI (`CI` set) a missing tool fails the
    /// suite instead of skipping it, so a broken install cannot pass unnoticed.
    static func needs(_ tool: String) -> Self {
        .enabled(if: ProcessInfo.processInfo.environment["CI"] != nil || ToolPath.isInstalled(tool), "\(tool) is not installed")
    }
}

/// Looks tools up on the `PATH`.
enum ToolPath {
    static func isInstalled(_ tool: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }
}
