import Foundation
import Testing
import WharfCore

@testable import WharfLivepeer
@testable import WharfRouting

/// An orchestrator's `transcoder` URL, where the gateway sends jobs with payment and fetches result
/// files from, held to where the orchestrator was reached.
@Suite(.layer(.unit)) struct TranscoderOriginTests {
    /// Names as a test's resolver knows them; literals are their own.
    static let origin = TranscoderOrigin { host in
        if let literal = IPAddress(host) { return [literal] }
        switch host {
        case "orchestrator.example": return [IPAddress("8.8.4.4")!]
        case "rebound.example": return [IPAddress("8.8.8.8")!, IPAddress("10.0.0.7")!]
        case "metadata.example": return [IPAddress("169.254.169.254")!]
        default: throw WharfError(.notFound, "no such host \(host)")
        }
    }

    static func address(_ text: String) -> OrchestratorAddress { OrchestratorAddress(parsing: text)! }

    @Test func aPublicOrchestratorMayNameOnlyAPublicHTTPSOrigin() async throws {
        let publicOrchestrator = Self.address("8.8.4.4:8935")
        for allowed in ["https://8.8.4.4:8935", "https://orchestrator.example:8936", "https://[2606:4700::1111]:8935"] {
            try await Self.origin.check(URL(string: allowed)!, reachedAt: publicOrchestrator)
        }
        for refused in [
            "https://127.0.0.1:8935", "https://169.254.169.254/latest", "https://10.1.2.3:8935", "https://[::1]:8935",
            "https://[::ffff:127.0.0.1]:8935", "https://metadata.example", "https://rebound.example", "http://8.8.4.4:8935",
            "file:///etc/passwd", "https://0.0.0.0:8935",
        ] {
            let error = await #expect(throws: WharfError.self, "\(refused)") {
                try await Self.origin.check(URL(string: refused)!, reachedAt: publicOrchestrator)
            }
            #expect(error?.code == .invalidArgument, "\(refused)")
        }
        // A public orchestrator known by name is public too.
        await #expect(throws: WharfError.self) {
            try await Self.origin.check(URL(string: "https://127.0.0.1:8935")!, reachedAt: Self.address("orchestrator.example:8935"))
        }
    }

    @Test func anOrchestratorOnAPrivateNetworkMayNameOneThere() async throws {
        // What the operator listed on its own network (the devnet, a LAN) is the operator's choice.
        try await Self.origin.check(URL(string: "https://127.0.0.1:40123")!, reachedAt: Self.address("127.0.0.1:40123"))
        try await Self.origin.check(URL(string: "https://10.0.0.9:8935")!, reachedAt: Self.address("10.0.0.8:8935"))
        // Still https.
        await #expect(throws: WharfError.self) {
            try await Self.origin.check(URL(string: "http://127.0.0.1:40123")!, reachedAt: Self.address("127.0.0.1:40123"))
        }
    }
}

/// Requests to an orchestrator go to its transcoder URL's origin and path, built from parts.
@Suite(.layer(.unit)) struct TranscoderEndpointTests {
    @Test func theRequestPathIsAddedToTheURLsPathAndNothingElseIsKept() throws {
        func endpoint(_ text: String) throws -> String { try AIJobClient.endpoint(URL(string: text)!, path: "text-to-image") }
        #expect(try endpoint("https://o.example:8935") == "https://o.example:8935/text-to-image")
        #expect(try endpoint("https://o.example:8935/") == "https://o.example:8935/text-to-image")
        #expect(try endpoint("https://o.example:8935/ai//") == "https://o.example:8935/ai/text-to-image")
        // A query or fragment would swallow the path; credentials would be sent along.
        #expect(try endpoint("https://o.example:8935/?next=") == "https://o.example:8935/text-to-image")
        #expect(try endpoint("https://o.example:8935/#") == "https://o.example:8935/text-to-image")
        #expect(try endpoint("https://user:secret@o.example:8935/") == "https://o.example:8935/text-to-image")
        #expect(throws: WharfError.self) { try endpoint("https:///path-only") }
    }
}
