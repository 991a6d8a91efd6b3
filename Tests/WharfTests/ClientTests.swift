import Foundation
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime
import Testing
import WharfClient

/// The generated Swift client (the `WharfClient` product) against the real `wharf serve`, as the
/// README shows it.
@Suite(.layer(.integration), .timeLimit(.minutes(2))) struct ClientTests {
    @Test func theSwiftClientRunsAJobAndUploadsAFile() async throws {
        let gateway = try await V2JobsTests.gateway()
        defer { gateway.stop() }
        let client = Client(
            serverURL: URL(string: gateway.baseURL + "/v2")!,
            transport: AsyncHTTPClientTransport(),
            middlewares: [WharfAuthentication(key: gateway.key)]
        )

        let presets = try await client.listPresets().ok.body.json.data
        #expect(presets.contains { $0.name == "template.greet" })

        let created = try await client.createJob(
            headers: .init(idempotencyKey: "client-test", prefer: "wait=20"),
            body: .json(
                .init(
                    preset: "template.greet",
                    parameters: .init(additionalProperties: try .init(unvalidatedValue: ["name": "Swift"]))
                )
            )
        )
        let job = try created.ok.body.json
        #expect(job.status == .succeeded)
        #expect(job.outputs.first?.name == "greet-greeting.txt")
        let fetched = try await client.getJob(path: .init(id: job.id)).ok.body.json
        #expect(fetched.id == job.id && fetched.parameters.additionalProperties["name"] == "Swift")

        let file = try await client.createFile(
            query: .init(name: "notes.txt"),
            body: .binary(HTTPBody("hello"))
        )
        #expect(try file.created.body.json.size == 5)

        let missing = try await client.getJob(path: .init(id: "job_nothing"))
        guard case .notFound(let problem) = missing else {
            Issue.record("expected 404, got \(missing)")
            return
        }
        #expect(try problem.body.applicationProblemJson._type == "urn:wharf:problem:job-not-found")
    }
}
