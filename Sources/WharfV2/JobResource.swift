import Foundation
import OpenAPIRuntime
import WharfAPIv2
import WharfCore

/// What `/v2` stores in a job's `request` besides the preset and parameters.
enum JobRequestField {
    static let input = "input"
    static let webhookURL = "webhook_url"
    static let metadata = "metadata"
    static let revision = "revision"
    static let mediaBaseURL = "media_base_url"
    /// Read by the preset runner (``WharfWorkflow/PresetRunner``) too.
    static let routingSeed = "routing_seed"
}

/// Builds the `/v2` shape of a job (the newest revision) from what the store keeps.
struct JobResource<Store: JobStore & ArtifactStore & StepStore & SpendStore> {
    let store: Store
    /// The step ids of a preset, in order, when it is loaded (so steps yet to run show as pending).
    var plannedSteps: @Sendable (String) -> [String] = { _ in [] }

    func make(_ job: Job, mediaBaseURL: String) async throws -> Components.Schemas.Job {
        let request = (try? JSONSerialization.jsonObject(with: job.request) as? [String: Any]) ?? [:]
        let result = job.result.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        let presetName = request["preset"] as? String ?? String(job.kind.dropFirst("preset:".count))
        let states = try await store.steps(jobID: job.id)
        let charged = Dictionary(try await store.spending(jobID: job.id).map { ($0.stepID, $0.amount) }, uniquingKeysWith: +)
        let byID = Dictionary(states.map { ($0.stepID, $0) }, uniquingKeysWith: { $1 })
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
                    cost: charged[id]
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
                        url: "\(mediaBaseURL)/\(job.id)/\(name)",
                        contentType: artifact.contentType,
                        size: Int64(artifact.byteCount)
                    )
                )
            }
        }
        var input: Components.Schemas.JobInput?
        if let given = request[JobRequestField.input] as? [String: String] {
            input = .init(file: given["file"], url: given["url"])
        }
        var resultPayload: Components.Schemas.Job.ResultPayload?
        if job.status == .succeeded, let stepOutputs = result["steps"] {
            let data = try JSONSerialization.data(withJSONObject: stepOutputs)
            resultPayload = try JSONDecoder().decode(Components.Schemas.Job.ResultPayload.self, from: data)
        }
        return .init(
            id: job.id,
            object: .job,
            preset: presetName,
            status: Components.Schemas.JobStatus(rawValue: job.status.rawValue) ?? .failed,
            input: input,
            parameters: .init(additionalProperties: request["parameters"] as? [String: String] ?? [:]),
            metadata: .init(additionalProperties: request[JobRequestField.metadata] as? [String: String] ?? [:]),
            webhookUrl: request[JobRequestField.webhookURL] as? String,
            steps: steps,
            outputs: outputs,
            result: resultPayload,
            error: job.status == .failed || job.status == .canceled ? result["error"] as? String : nil,
            cost: charged.values.reduce(Int64(0)) { $0.addingReportingOverflow($1).overflow ? .max : $0 + $1 },
            createdAt: job.createdAt,
            updatedAt: job.updatedAt
        )
    }

    /// The revision the job was created under (what its webhooks are shaped for).
    static func revision(of job: Job) -> APIRevision {
        let request = (try? JSONSerialization.jsonObject(with: job.request) as? [String: Any]) ?? [:]
        return (request[JobRequestField.revision] as? String).flatMap(APIRevision.init(rawValue:)) ?? .newest
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
