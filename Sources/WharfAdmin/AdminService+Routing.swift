import Foundation
package import WharfAPIAdmin
package import WharfCore
import WharfLivepeer
package import WharfRouting

/// `/admin/v1/jobs/{id}` and `/admin/v1/routing/preview`: where work went on the network, and why.
extension AdminService {
    package func getJob(_ input: Operations.GetJob.Input) async throws -> Operations.GetJob.Output {
        guard let job = try await store.job(id: input.path.id) else {
            throw AdminProblem.notFound("job-not-found", "no job \(input.path.id.prefix(100))")
        }
        let attempts = try await store.attempts(jobID: job.id)
        return .ok(
            .init(
                body: .json(
                    .init(
                        id: job.id,
                        tenantId: job.tenantID,
                        keyPrefix: job.apiKeyPrefix,
                        kind: job.kind,
                        status: job.status.rawValue,
                        createdAt: job.createdAt,
                        updatedAt: job.updatedAt,
                        attempts: try attempts.map(Components.Schemas.NetworkAttempt.init)
                    )
                )
            )
        )
    }

    package func previewRouting(_ input: Operations.PreviewRouting.Input) async throws -> Operations.PreviewRouting.Output {
        guard case .json(let body) = input.body else { throw AdminProblem.invalid(field: "/", "the body must be JSON") }
        guard let routing else {
            throw AdminProblem(status: 404, kind: "not-found", title: "Not Found", detail: "this gateway routes nothing to the network")
        }
        guard let pipeline = Pipeline(rawValue: body.pipeline), pipeline != .liveVideoToVideo else {
            throw AdminProblem.invalid(field: "/pipeline", "pipeline: '\(body.pipeline.prefix(40))' is not a batch pipeline")
        }
        var priceCap = routing.priceCaps[pipeline]
        if let text = body.priceCap {
            guard let cap = UnitPrice(parsing: text) else {
                throw AdminProblem.invalid(field: "/price_cap", "price_cap must be wei per unit (1000) or wei per N units (25/1000000)")
            }
            priceCap = .tighter(priceCap, cap)
        }
        var seed: UInt64?
        if let text = body.seed {
            guard let parsed = UInt64(text) else {
                throw AdminProblem.invalid(field: "/seed", "seed must be a whole number from 0 to 18446744073709551615, as text")
            }
            seed = parsed
        }
        if let region = body.clientRegion, region.isEmpty {
            throw AdminProblem.invalid(field: "/client_region", "client_region must not be empty")
        }
        var tenantID: String?
        var keyPrefix: String?
        if let prefix = body.key {
            guard let key = try await store.apiKey(prefix: prefix) else {
                throw AdminProblem.notFound("key-not-found", "no key with the prefix \(prefix.prefix(100))")
            }
            tenantID = key.tenantID
            keyPrefix = key.prefix
        }
        if let name = body.tenant {
            guard let tenant = try await store.tenant(named: name) else {
                throw AdminProblem.notFound("tenant-not-found", "no tenant named \(name.prefix(100))")
            }
            guard tenantID == nil || tenantID == tenant.id else {
                throw AdminProblem.invalid(field: "/key", "key: the key is not one of tenant \(name.prefix(100))'s")
            }
            tenantID = tenant.id
        }
        var constraints = RouteConstraints(priceCap: priceCap, clientRegion: body.clientRegion)
        if let tenantID, let policy = try await routing.policies?.orchestratorPolicy(tenantID: tenantID, keyPrefix: keyPrefix) {
            constraints = constraints.applying(policy, for: pipeline)
        }
        var model = body.model ?? ""
        if model.isEmpty { model = await pool.mostOfferedModel(for: pipeline) ?? "" }
        let selection = await routing.router.preview(pipeline, model: model, constraints: constraints, seed: seed)
        let decision = try JSONDecoder().decode(Components.Schemas.RoutingDecision.self, from: JSONEncoder().encode(selection.decision))
        return .ok(
            .init(
                body: .json(
                    .init(
                        pipeline: pipeline.rawValue,
                        model: model,
                        chosen: selection.candidate?.address.description,
                        message: selection.candidate == nil
                            ? PipelineRouter.explain(selection.decision, pipeline: pipeline, model: model, constraints: constraints) : nil,
                        decision: decision
                    )
                )
            )
        )
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

/// What the routing preview needs: the node's router, its price caps and the tenants' and keys'
/// orchestrator policies.
package struct RoutingPreviewer: Sendable {
    let router: PipelineRouter
    let priceCaps: [Pipeline: UnitPrice]
    let policies: (any OrchestratorPolicySource)?

    package init(router: PipelineRouter, priceCaps: [Pipeline: UnitPrice], policies: (any OrchestratorPolicySource)?) {
        self.router = router
        self.priceCaps = priceCaps
        self.policies = policies
    }
}
