public import WharfCore

extension PolicyEngine: OrchestratorPolicySource {
    public func orchestratorPolicy(tenantID: String, keyPrefix: String?) async throws -> OrchestratorPolicy? {
        let (tenant, key) = try await limits(tenantID: tenantID, keyPrefix: keyPrefix)
        switch (tenant?.routing, key?.routing) {
        case (nil, nil): return nil
        case (let tenant?, nil): return tenant
        case (nil, let key?): return key
        case (let tenant?, let key?): return tenant.narrowed(by: key)
        }
    }
}
