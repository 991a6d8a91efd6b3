#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// A unit of work a customer asked for: a single AI call from v1, or a preset run from v2.
///
/// Every public API version turns its requests into jobs, so usage, analytics and audit see all
/// versions the same way. `request` and `result` are the adapter's JSON documents, kept as bytes.
public struct Job: Sendable, Hashable {
    /// Opaque identifier, `job_…`.
    public var id: String
    /// The tenant that owns the job.
    public var tenantID: String
    /// What kind of work it is, for example `text-to-image` or `preset:subtitles`.
    public var kind: String
    /// Where the job is in its life.
    public var status: JobStatus
    /// The request as JSON.
    public var request: Data
    /// The result as JSON, once there is one.
    public var result: Data?
    /// When the job was created.
    public var createdAt: Date
    /// When the job last changed.
    public var updatedAt: Date
    /// The prefix of the API key that created the job, when known (for per-key limits and usage).
    public var apiKeyPrefix: String?

    public init(
        id: String,
        tenantID: String,
        kind: String,
        status: JobStatus,
        request: Data,
        result: Data? = nil,
        createdAt: Date,
        updatedAt: Date,
        apiKeyPrefix: String? = nil
    ) {
        self.apiKeyPrefix = apiKeyPrefix
        self.id = id
        self.tenantID = tenantID
        self.kind = kind
        self.status = status
        self.request = request
        self.result = result
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Makes a new queued job with a fresh identifier.
    public init(tenantID: String, kind: String, request: Data, apiKeyPrefix: String? = nil, createdAt: Date = Date()) {
        self.init(
            id: Identifier.make(prefix: "job", at: createdAt),
            tenantID: tenantID,
            kind: kind,
            status: .queued,
            request: request,
            createdAt: createdAt,
            updatedAt: createdAt,
            apiKeyPrefix: apiKeyPrefix
        )
    }
}

extension Job {
    /// The job moved to `status` at `date`, with `result` when given (the old result otherwise): what
    /// every store writes for ``JobStore/updateJob(id:status:result:at:)``.
    /// - Throws: ``WharfError/Code/invalidArgument`` when the job is already final (a finished job
    ///   never changes).
    public func moved(to status: JobStatus, result: Data?, at date: Date) throws -> Job {
        guard !self.status.isFinal else {
            throw WharfError(.invalidArgument, "job \(id) is already \(self.status.rawValue)")
        }
        var moved = self
        moved.status = status
        moved.result = result ?? self.result
        moved.updatedAt = date
        return moved
    }
}

/// The life of a ``Job``. `succeeded`, `failed` and `canceled` are final.
public enum JobStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case queued
    case running
    case succeeded
    case failed
    case canceled

    /// Whether the job can no longer change.
    public var isFinal: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .failed, .canceled: true
        }
    }
}
