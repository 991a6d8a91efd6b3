import Crypto
public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: FileStore {
    public var uploadsDirectory: String { (artifactsDirectory as NSString).appendingPathComponent("uploads") }

    public func importFile(
        id: String,
        tenantID: String,
        name: String,
        contentType: String,
        from temporaryPath: String
    ) async throws
        -> StoredFile
    {
        let (digest, byteCount) = try Self.digest(ofFileAt: temporaryPath)
        let target = contentPath(digest)
        do {
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            if FileManager.default.fileExists(atPath: target) {
                try FileManager.default.removeItem(atPath: temporaryPath)
            } else if rename(temporaryPath, target) != 0 {
                throw WharfError(.storeUnavailable, "cannot move an upload into \(artifactsDirectory)")
            }
        } catch let error as WharfError {
            throw error
        } catch {
            throw WharfError(.storeUnavailable, "cannot move an upload into \(artifactsDirectory)", cause: error)
        }
        let file = StoredFile(
            id: id,
            tenantID: tenantID,
            name: name,
            contentType: contentType,
            byteCount: byteCount,
            digest: digest,
            createdAt: Date()
        )
        try await write { db in
            try db.execute(
                cached:
                    "INSERT INTO files (id, tenant_id, name, content_type, byte_count, digest, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [file.id, file.tenantID, file.name, file.contentType, file.byteCount, file.digest, file.createdAt]
            )
        }
        return file
    }

    public func file(id: String, tenantID: String) async throws -> (file: StoredFile, path: String)? {
        let found = try await read { db in
            try StoredFile.fetch(db, sql: "SELECT * FROM files WHERE id = ? AND tenant_id = ?", [id, tenantID]).first
        }
        return found.map { ($0, contentPath($0.digest)) }
    }

    public func attachFile(id: String, tenantID: String, toJob jobID: String, as name: String) async throws -> Artifact {
        guard Artifact.isValidName(name) else {
            throw WharfError(.invalidArgument, "artifact name '\(name)' is not a plain file name")
        }
        return try await write { db in
            guard let file = try StoredFile.fetch(db, sql: "SELECT * FROM files WHERE id = ? AND tenant_id = ?", [id, tenantID]).first
            else { throw WharfError(.notFound, "no file with id '\(id)'") }
            let artifact = Artifact(
                jobID: jobID,
                name: name,
                contentType: file.contentType,
                byteCount: Int(file.byteCount),
                createdAt: Date()
            )
            try db.execute(
                cached: """
                    INSERT INTO artifacts (job_id, name, content_type, byte_count, data, digest, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [jobID, name, file.contentType, file.byteCount, Data(), file.digest, artifact.createdAt]
            )
            return artifact
        }
    }

    /// SHA-256 and size of a file, read in 1 MiB pieces.
    static func digest(ofFileAt path: String) throws -> (String, Int64) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw WharfError(.storeUnavailable, "cannot read the upload at \(path)")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var count: Int64 = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            count += Int64(chunk.count)
        }
        return (hasher.finalize().map { String(format: "%02x", $0) }.joined(), count)
    }
}

extension SQLiteStore: IdempotencyStore {
    public func beginIdempotentRequest(tenantID: String, key: String, at date: Date, lockFor: Duration) async throws -> IdempotencyClaim {
        let lockedUntil = date.addingTimeInterval(Double(lockFor.components.seconds))
        return try await write { db in
            if let row = try Row.fetchOne(
                db,
                sql: "SELECT * FROM idempotency_keys WHERE tenant_id = ? AND key = ?",
                arguments: [tenantID, key]
            ) {
                if let status = row["status"] as Int?, let hash = row["request_hash"] as String? {
                    let headerText: String = row["headers"] ?? "[]"
                    let headers = (try? JSONDecoder().decode([[String]].self, from: Data(headerText.utf8))) ?? []
                    return .completed(IdempotentResponse(requestHash: hash, status: status, headers: headers, body: row["body"] ?? Data()))
                }
                if let until = row["locked_until"] as Date?, until > date { return .inProgress }
                try db.execute(
                    cached: "UPDATE idempotency_keys SET locked_until = ?, created_at = ? WHERE tenant_id = ? AND key = ?",
                    arguments: [lockedUntil, date, tenantID, key]
                )
                return .claimed
            }
            try db.execute(
                cached: "INSERT INTO idempotency_keys (tenant_id, key, locked_until, created_at) VALUES (?, ?, ?, ?)",
                arguments: [tenantID, key, lockedUntil, date]
            )
            return .claimed
        }
    }

    public func completeIdempotentRequest(tenantID: String, key: String, response: IdempotentResponse, at date: Date) async throws {
        let headers = String(decoding: try JSONEncoder().encode(response.headers), as: UTF8.self)
        try await write { db in
            try db.execute(
                cached: """
                    UPDATE idempotency_keys SET request_hash = ?, status = ?, headers = ?, body = ?, locked_until = NULL
                    WHERE tenant_id = ? AND key = ?
                    """,
                arguments: [response.requestHash, response.status, headers, response.body, tenantID, key]
            )
        }
    }

    public func releaseIdempotentRequest(tenantID: String, key: String) async throws {
        try await write { db in
            try db.execute(
                cached: "DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND status IS NULL",
                arguments: [tenantID, key]
            )
        }
    }

    public func removeIdempotencyRecords(createdBefore date: Date) async throws -> Int {
        try await write { db in
            try db.execute(cached: "DELETE FROM idempotency_keys WHERE created_at < ?", arguments: [date])
            return db.changesCount
        }
    }
}

extension SQLiteStore: WebhookStore {
    public func enqueueWebhook(_ event: WebhookEvent) async throws {
        try await write { db in
            try db.execute(
                cached: """
                    INSERT INTO webhook_events (id, tenant_id, job_id, type, url, payload, state, attempts, next_attempt_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    event.id, event.tenantID, event.jobID, event.type, event.url, event.payload, event.state.rawValue,
                    event.attempts, event.nextAttemptAt, event.createdAt,
                ]
            )
        }
    }

    public func recordWebhookAttempt(_ attempt: WebhookAttempt, state: WebhookEvent.State, nextAttemptAt: Date?) async throws {
        try await write { db in
            try db.execute(
                cached: "INSERT INTO webhook_attempts (event_id, number, status_code, error, duration_ms, at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [attempt.eventID, attempt.number, attempt.statusCode, attempt.error, attempt.durationMilliseconds, attempt.at]
            )
            try db.execute(
                cached: """
                    UPDATE webhook_events SET state = ?, attempts = ?, next_attempt_at = coalesce(?, next_attempt_at),
                        lease_holder = NULL, lease_expires_at = NULL
                    WHERE id = ?
                    """,
                arguments: [state.rawValue, attempt.number, nextAttemptAt, attempt.eventID]
            )
        }
    }

    public func webhookDeliveries(jobID: String) async throws -> [(event: WebhookEvent, attempts: [WebhookAttempt])] {
        let (events, attempts) = try await read { db in
            (
                try WebhookEvent.fetch(db, sql: "SELECT * FROM webhook_events WHERE job_id = ? ORDER BY created_at, id", [jobID]),
                try WebhookAttempt.fetch(
                    db,
                    sql: """
                        SELECT webhook_attempts.* FROM webhook_attempts JOIN webhook_events ON webhook_events.id = event_id
                        WHERE job_id = ? ORDER BY webhook_attempts.id
                        """,
                    [jobID]
                )
            )
        }
        let byEvent = Dictionary(grouping: attempts, by: \.eventID)
        return events.map { ($0, byEvent[$0.id] ?? []) }
    }

    public func webhookSecret(tenantID: String) async throws -> String {
        let fresh = "whsec_" + Base32.encode((0..<32).map { _ in UInt8.random(in: .min ... .max) })
        return try await write { db in
            try db.execute(
                cached: "UPDATE tenants SET webhook_secret = ? WHERE id = ? AND webhook_secret IS NULL",
                arguments: [fresh, tenantID]
            )
            guard let secret = try String.fetchOne(db, sql: "SELECT webhook_secret FROM tenants WHERE id = ?", arguments: [tenantID]) else {
                throw WharfError(.notFound, "no tenant with id '\(tenantID)'")
            }
            return secret
        }
    }
}
