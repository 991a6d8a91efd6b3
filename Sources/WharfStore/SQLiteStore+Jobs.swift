import Crypto
public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: JobStore {
    public func insertJob(_ job: Job, heldBy holder: String?) async throws {
        try await write { db in
            guard try Tenant.fetch(db, sql: "SELECT * FROM tenants WHERE id = ?", [job.tenantID]).first != nil else {
                throw WharfError(.notFound, "no tenant with id '\(job.tenantID)'")
            }
            try db.execute(
                cached: """
                    INSERT INTO jobs (id, tenant_id, kind, status, request, result, created_at, updated_at, api_key_prefix, lease_holder)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    job.id, job.tenantID, job.kind, job.status.rawValue, job.request, job.result, job.createdAt,
                    job.updatedAt, job.apiKeyPrefix, holder,
                ]
            )
        }
    }

    public func job(id: String) async throws -> Job? {
        try await read { db in try Job.fetch(db, sql: "SELECT * FROM jobs WHERE id = ?", [id]).first }
    }

    public func updateJob(id: String, status: JobStatus, result: Data?, at date: Date) async throws -> Job {
        try await write { db in try Self.updateJob(db, id: id, status: status, result: result, at: date) }
    }

    static func updateJob(_ db: Database, id: String, status: JobStatus, result: Data?, at date: Date) throws -> Job {
        guard let stored = try Job.fetch(db, sql: "SELECT * FROM jobs WHERE id = ?", [id]).first else {
            throw WharfError(.notFound, "no job with id '\(id)'")
        }
        let job = try stored.moved(to: status, result: result, at: date)
        try db.execute(
            cached: "UPDATE jobs SET status = ?, result = ?, updated_at = ? WHERE id = ?",
            arguments: [job.status.rawValue, job.result, job.updatedAt, id]
        )
        return job
    }

    public func listJobs(tenantID: String, limit: Int) async throws -> [Job] {
        try await read { db in
            try Job.fetch(
                db,
                sql: "SELECT * FROM jobs WHERE tenant_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                [tenantID, max(0, limit)]
            )
        }
    }
}

extension SQLiteStore {
    public func listJobs(tenantID: String, query: JobQuery) async throws -> [Job] {
        var conditions = ["tenant_id = ?"]
        var arguments: [(any DatabaseValueConvertible)?] = [tenantID]
        if let prefix = query.kindPrefix {
            conditions.append("substr(kind, 1, ?) = ?")
            arguments += [prefix.count, prefix]
        }
        if let kind = query.kind {
            conditions.append("kind = ?")
            arguments.append(kind)
        }
        if let status = query.status {
            conditions.append("status = ?")
            arguments.append(status.rawValue)
        }
        if let from = query.createdFrom {
            conditions.append("created_at >= ?")
            arguments.append(from)
        }
        if let before = query.createdBefore {
            conditions.append("created_at < ?")
            arguments.append(before)
        }
        if let cursor = query.startingAfter {
            conditions.append("id < ?")
            arguments.append(cursor)
        }
        arguments.append(max(0, query.limit))
        let sql = "SELECT * FROM jobs WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?"
        let statementArguments = StatementArguments(arguments)
        return try await read { db in try Job.fetch(db, sql: sql, statementArguments) }
    }
}
