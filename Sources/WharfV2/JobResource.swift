import Foundation
import OpenAPIRuntime
import WharfAPIv2
import WharfCore

/// What `/v2` stores in a job's `request` besides the preset and parameters.
/// Builds the `/v2` shape of a job (the newest revision) from what the store keeps.
struct JobResource<Store: JobStore & ArtifactStore & StepStore & SpendStore & AttemptStore> {
    let store: Store
    /// The step ids of a preset, in order, when it is loaded (so steps yet to run show as pending).
    var plannedSteps: @Sendable (String) -> [String] = { _ in [] }
    /// How links to the job's files are made (signed with `media.signed_urls`).
    var links = MediaLinks.plain

    func make(_ job: Job, mediaBaseURL: String) async throws -> Components.Schemas.Job {
        let request = PresetJobRequest(of: job)
        let presetName = request?.preset ?? String(job.kind.dropFirst("preset:".count))
        let states = try await store.steps(jobID: job.id)
        let charged = Dictionary(try await store.spending(jobID: job.id).map { ($0.stepID, $0.amount) }, uniquingKeysWith: +)
        let byID = Dictionary(states.map { ($0.stepID, $0) }, uniquingKeysWith: { $1 })
        let attempts = Dictionary(grouping: try await store.attempts(jobID: job.id), by: { $0.stepID ?? "" })
        var steps: [Components.Schemas.JobStep] = []
        var order = plannedSteps(presetName)
        for state in states where !order.contains(state.stepID) { order.append(state.stepID) }
        for id in order {
            guard let state = byID[id] else {
                steps.append(.init(id: id, status: .pending, attempts: 0))
                continue
            }
            let status: Components.Schemas.JobStep.StatusPayload =
                switch state.status {
                case .running: job.status.isFinal ? .failed : .running
                case .succeeded: .succeeded
                case .failed: .failed
                }
            steps.append(
                .init(
                    id: id,
                    status: status,
                    attempts: state.attempts,
                    error: state.status == .failed ? String(decoding: state.output ?? Data(), as: UTF8.self) : nil,
                    cost: charged[id],
                    routing: try attempts[id].map { try $0.map(Components.Schemas.NetworkAttempt.init) }
                )
            )
        }
        // Outputs in step order; the customer's own input is not an output.
        let artifacts = Dictionary(try await store.artifacts(jobID: job.id).map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        var outputs: [Components.Schemas.JobOutput] = []
        for id in order {
            for name in byID[id]?.status == .succeeded ? byID[id]?.artifacts ?? [] : [] {
                guard let artifact = artifacts[name] else { continue }
                outputs.append(
                    .init(
                        name: name,
                        url: links.url(base: mediaBaseURL, jobID: job.id, name: name),
                        contentType: artifact.contentType,
                        size: Int64(artifact.byteCount)
                    )
                )
            }
        }
        let input = request?.input.map { Components.Schemas.JobInput(file: $0.file, url: $0.url) }
        var resultPayload: Components.Schemas.Job.ResultPayload?
        if job.status == .succeeded, let result = job.result.flatMap({ try? JSONDecoder().decode(PresetJobResult.self, from: $0) }) {
            let data = try JSONEncoder().encode(result.steps)
            resultPayload = try JSONDecoder().decode(Components.Schemas.Job.ResultPayload.self, from: data)
        }
        let failure = job.result.flatMap { try? JSONDecoder().decode(JobFailureResult.self, from: $0) }
        return .init(
            id: job.id,
            object: .job,
            preset: presetName,
            status: Components.Schemas.JobStatus(rawValue: job.status.rawValue) ?? .failed,
            input: input,
            parameters: .init(additionalProperties: request?.parameters ?? [:]),
            metadata: .init(additionalProperties: request?.metadata ?? [:]),
            webhookUrl: request?.webhookURL,
            steps: steps,
            outputs: outputs,
            result: resultPayload,
            error: job.status == .failed || job.status == .canceled ? failure?.error : nil,
            cost: charged.values.reduce(Int64(0)) { $0.addingReportingOverflow($1).overflow ? .max : $0 + $1 },
            createdAt: job.createdAt,
            updatedAt: job.updatedAt
        )
    }

    /// The revision the job was created under (what its webhooks are shaped for).
    static func revision(of job: Job) -> APIRevision {
        PresetJobRequest(of: job)?.revision.flatMap(APIRevision.init(rawValue:)) ?? .newest
    }
}

extension Components.Schemas.NetworkAttempt {
    /// The attempt in this API's shape (the same JSON as ``WharfCore/NetworkAttempt/shownJSON()``).
    init(_ attempt: NetworkAttempt) throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        self = try decoder.decode(Self.self, from: attempt.shownJSON())
    }
}

extension JSONEncoder {
    /// How `/v2` writes JSON outside the generated code (webhook bodies): like the generated code.
    static var v2: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
