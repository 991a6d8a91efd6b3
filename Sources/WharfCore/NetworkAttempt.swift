#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// One try of one network step on one orchestrator, as kept for analytics: who was asked, how long it
/// took, what came of it and at what price.
public struct NetworkAttempt: Sendable, Hashable, Codable {
    /// The job the step belongs to.
    public var jobID: String
    /// The orchestrator's address (`host:port`).
    public var orchestrator: String
    /// `ok`, `timeout`, `connection refused`, `http 503`, …
    public var outcome: String
    /// Time from sending the request to its answer or failure.
    public var latencyMilliseconds: Int
    /// The orchestrator's price for the step: wei per `pixelsPerUnit` units.
    public var pricePerUnit: Int64
    /// Units covered by `pricePerUnit`.
    public var pixelsPerUnit: Int64
    /// When the attempt ended.
    public var endedAt: Date
    /// The step of the job it belongs to (`run` for a v1 call); `nil` in records from before steps were kept.
    public var stepID: String?
    /// `first`, `retry` (after a failure) or `hedge` (beside an attempt that had not answered).
    public var role: String
    /// What the operator owes the orchestrator for it, in wei: set for the attempt that did the step
    /// and for one that lost a hedge race; `nil` for failures.
    public var costWei: Int64?
    /// Why this orchestrator was chosen.
    public var decision: RoutingDecision?

    public init(
        jobID: String,
        orchestrator: String,
        outcome: String,
        latencyMilliseconds: Int,
        pricePerUnit: Int64,
        pixelsPerUnit: Int64,
        endedAt: Date,
        stepID: String? = nil,
        role: String = "first",
        costWei: Int64? = nil,
        decision: RoutingDecision? = nil
    ) {
        self.stepID = stepID
        self.role = role
        self.costWei = costWei
        self.decision = decision
        self.jobID = jobID
        self.orchestrator = orchestrator
        self.outcome = outcome
        self.latencyMilliseconds = latencyMilliseconds
        self.pricePerUnit = pricePerUnit
        self.pixelsPerUnit = pixelsPerUnit
        self.endedAt = endedAt
    }

    /// Whether the attempt completed the step.
    public var succeeded: Bool { outcome == "ok" }
}

/// A file a job produced (an image, audio, video), kept by the gateway and served to the customer so
/// that customers never fetch anything from an orchestrator.
public struct Artifact: Sendable, Hashable {
    /// The job that produced it.
    public var jobID: String
    /// Its name within the job, for example `0.png`.
    public var name: String
    /// Its media type, for example `image/png`.
    public var contentType: String
    /// Its size.
    public var byteCount: Int
    /// When it was stored.
    public var createdAt: Date

    public init(jobID: String, name: String, contentType: String, byteCount: Int, createdAt: Date) {
        self.jobID = jobID
        self.name = name
        self.contentType = contentType
        self.byteCount = byteCount
        self.createdAt = createdAt
    }
}

/// Persistence of network attempts.
public protocol AttemptStore: Sendable {
    /// Appends attempts; they never change afterwards.
    func insertAttempts(_ attempts: [NetworkAttempt]) async throws
    /// A job's attempts, in the order they ended.
    func attempts(jobID: String) async throws -> [NetworkAttempt]
    /// Appends a job's attempts and moves the job to `status` (recording `result` when given) in one
    /// transaction: what a one-step job writes when it ends.
    /// - Throws: As ``JobStore/updateJob(id:status:result:at:)``; then nothing is written.
    func finishJob(id: String, status: JobStatus, result: Data?, attempts: [NetworkAttempt], at date: Date) async throws -> Job
}

/// A store whose files' bytes live in a ``BlobStore``.
public protocol BlobBackedStore: Sendable {
    /// Where the bytes of files and artifacts are.
    var blobs: any BlobStore { get }
}

/// Persistence of job artifacts: what they are, with their bytes in ``BlobBackedStore/blobs``.
public protocol ArtifactStore: BlobBackedStore {
    /// Records a blob as an artifact of a job.
    /// - Throws: ``WharfError/Code/invalidArgument`` for a name that is not a plain file name,
    ///   ``WharfError/Code/notFound`` for an unknown job, and ``WharfError/Code/alreadyExists`` when
    ///   the job already has an artifact of that name.
    func putArtifact(jobID: String, name: String, contentType: String, blob: Blob) async throws -> Artifact
    /// A job's artifacts (without their bytes), in the order they were stored.
    func artifacts(jobID: String) async throws -> [Artifact]
    /// An artifact and the blob of its bytes, if it exists.
    func artifact(jobID: String, name: String) async throws -> (artifact: Artifact, blob: Blob)?
    /// Deletes a job's artifacts whose names start with `prefix` (what an interrupted step left
    /// behind before it runs again). - Returns: How many were removed.
    func removeArtifacts(jobID: String, namePrefix prefix: String) async throws -> Int
    /// Deletes the artifacts of jobs that ended before `date` (retention), and their bytes when no
    /// other artifact shares them. - Returns: How many artifacts were removed.
    func removeArtifacts(ofJobsFinishedBefore date: Date) async throws -> Int
}

extension ArtifactStore {
    /// Stores bytes already in memory as an artifact of a job (see
    /// ``putArtifact(jobID:name:contentType:blob:)``).
    public func putArtifact(jobID: String, name: String, contentType: String, data: Data) async throws -> Artifact {
        guard Artifact.isValidName(name) else {
            throw WharfError(.invalidArgument, "artifact name '\(name)' is not a plain file name")
        }
        let blob = try await blobs.write(data)
        let artifact = try await putArtifact(jobID: jobID, name: name, contentType: contentType, blob: blob)
        return artifact
    }
}

extension Artifact {
    /// Whether `name` is a plain file name: 1 to 128 characters of letters, digits, `.`, `-` and `_`,
    /// not starting with a dot.
    public static func isValidName(_ name: String) -> Bool {
        guard (1...128).contains(name.utf8.count), name.first != "." else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }
}

extension NetworkAttempt {
    /// The attempt as the v2 and admin APIs show it (their `NetworkAttempt` schemas: snake_case
    /// names, RFC 3339 time), for them to decode into their own generated types.
    public func shownJSON() throws -> Data {
        struct Shown: Encodable {
            var step_id: String?
            var cost_wei: Int64?
            var orchestrator: String
            var role: String
            var outcome: String
            var latency_ms: Int
            var price_per_unit: Int64
            var pixels_per_unit: Int64
            var ended_at: Date
            var decision: RoutingDecision?
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(
            Shown(
                step_id: stepID,
                cost_wei: costWei,
                orchestrator: orchestrator,
                role: role,
                outcome: outcome,
                latency_ms: latencyMilliseconds,
                price_per_unit: pricePerUnit,
                pixels_per_unit: pixelsPerUnit,
                ended_at: endedAt,
                decision: decision
            )
        )
    }
}
