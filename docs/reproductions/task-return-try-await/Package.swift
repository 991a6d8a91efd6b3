// swift-tools-version: 6.0
// The optimizer defect behind Wharf's release-build crash (docs/RELIABILITY.md). Not part of Wharf's build.
import PackageDescription

let package = Package(name: "Repro", targets: [.executableTarget(name: "Repro")])
