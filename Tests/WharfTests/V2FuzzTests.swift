import Foundation
import Testing

/// schemathesis (from PyPI) generates requests from openapi/v2.yaml, valid and invalid, runs them
/// against the real `wharf serve` and checks every answer: never a 5xx, always the documented status,
/// content type, headers and schema, invalid input refused, 405 for undeclared methods, and its
/// stateful phase follows links between operations. (It would also like every schema-valid request to
/// succeed; a preset name that does not exist is schema-valid and still a 422, so that check is off.)
@Suite(.layer(.endToEnd), .needs("schemathesis"), .timeLimit(.minutes(5))) struct V2FuzzTests {
    @Test func schemathesisFindsNoServerErrorAndNoAnswerOutsideTheSpec() async throws {
        let gateway = try await V2JobsTests.gateway()
        defer { gateway.stop() }
        let specification = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("openapi/v2.yaml").path
        // Run from the gateway's folder: schemathesis keeps its example database in the working folder.
        let command = [
            "cd '\(gateway.directory.path)' &&", "schemathesis run '\(specification)'", "--url \(gateway.baseURL)/v2",
            "--header 'Authorization: Bearer \(gateway.key)'", "--checks all --exclude-checks positive_data_acceptance",
            "--max-examples 20 --workers 1 --seed 20261125 --no-color",
        ]
        let run = try await runTool("sh", ["-c", command.joined(separator: " ")])
        #expect(run.status == 0, "\(run.output.suffix(6000))")
    }
}
