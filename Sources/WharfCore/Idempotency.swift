#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// A response kept for an `Idempotency-Key`, so that a retry of the same request gets it again.
public struct IdempotentResponse: Sendable, Hashable {
    /// SHA-256 over the method, path and body of the request that made it.
    public var requestHash: String
    public var status: Int
    /// Response headers worth replaying (content type, location, version), as name/value pairs.
    public var headers: [[String]]
    public var body: Data

    public init(requestHash: String, status: Int, headers: [[String]], body: Data) {
        self.requestHash = requestHash
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// What ``IdempotencyStore/beginIdempotentRequest(tenantID:key:at:lockFor:)`` found.
public enum IdempotencyClaim: Sendable, Hashable {
    /// No live record: the caller holds the key now and must complete or release it.
    case claimed
    /// Another request with this key is being handled right now.
    case inProgress
    /// A request with this key finished; here is what it answered.
    case completed(IdempotentResponse)
}

/// Persistence of idempotency keys, per tenant.
public protocol IdempotencyStore: Sendable {
    /// Claims `key` for a request, unless a live record exists. Records older than the retention are
    /// treated as absent; a claim left by a request that died is taken over once `lockFor` has passed.
    func beginIdempotentRequest(tenantID: String, key: String, at date: Date, lockFor: Duration) async throws -> IdempotencyClaim
    /// Stores the response of a claimed request.
    func completeIdempotentRequest(tenantID: String, key: String, response: IdempotentResponse, at date: Date) async throws
    /// Gives up a claim (the request failed in a way a retry may fix).
    func releaseIdempotentRequest(tenantID: String, key: String) async throws
    /// Deletes records created before `date`. - Returns: How many went.
    func removeIdempotencyRecords(createdBefore date: Date) async throws -> Int
}
