import Foundation
import Logging
import PostgresNIO
public import WharfCore

/// Keys of the transaction-scoped advisory locks the store takes (`pg_advisory_xact_lock`).
enum AdvisoryLock: Int64 {
    /// Held while migrating, so nodes starting together migrate once.
    case migrations = 0x5768_6172_6601
    /// Held while appending to the audit chain, so several writers make one linear chain.
    case auditChain = 0x5768_6172_6602
    /// Held while merging analytics roll-ups, so two nodes never both insert one row.
    case analyticsRollups = 0x5768_6172_6603
}

extension PostgresStore {
    /// One step of the schema's history: an identifier recorded in every database that ran it, and
    /// its statements, run in one transaction.
    struct Migration: Sendable {
        var identifier: String
        var statements: [String]
    }

    /// The schema's history. Append new migrations at the end; never edit or reorder applied ones.
    /// PostgreSQL starts at the schema SQLite reached by `2026-12-07` (docs/ARCHITECTURE.md, "Store");
    /// `2026-12-09-shared-limits` adds what only several nodes need (rate buckets and job slots).
    static let migrations: [Migration] = [
        Migration(
            identifier: "2026-12-08-postgres-schema",
            statements: [
                """
                CREATE TABLE tenants (
                    id text PRIMARY KEY, name text NOT NULL UNIQUE, created_at timestamptz NOT NULL, webhook_secret text)
                """,
                """
                CREATE TABLE api_keys (
                    prefix text PRIMARY KEY, tenant_id text NOT NULL REFERENCES tenants, name text NOT NULL,
                    scopes text NOT NULL, secret_hash bytea NOT NULL, created_at timestamptz NOT NULL,
                    revoked_at timestamptz, revision text)
                """,
                """
                CREATE TABLE jobs (
                    id text PRIMARY KEY, tenant_id text NOT NULL REFERENCES tenants, kind text NOT NULL,
                    status text NOT NULL, request bytea NOT NULL, result bytea, created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL, api_key_prefix text, lease_holder text, lease_expires_at timestamptz)
                """,
                "CREATE INDEX jobs_by_tenant_and_time ON jobs (tenant_id, created_at)",
                "CREATE INDEX jobs_by_status ON jobs (status, created_at)",
                "CREATE INDEX jobs_by_end ON jobs (updated_at)",
                """
                CREATE TABLE network_attempts (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job_id text NOT NULL REFERENCES jobs,
                    orchestrator text NOT NULL, outcome text NOT NULL, latency_ms bigint NOT NULL,
                    price_per_unit bigint NOT NULL, pixels_per_unit bigint NOT NULL, ended_at timestamptz NOT NULL,
                    step_id text, role text NOT NULL DEFAULT 'first', cost_wei bigint, decision text)
                """,
                "CREATE INDEX network_attempts_by_job ON network_attempts (job_id)",
                "CREATE INDEX network_attempts_by_orchestrator_and_time ON network_attempts (orchestrator, ended_at)",
                """
                CREATE TABLE artifacts (
                    job_id text NOT NULL REFERENCES jobs, name text NOT NULL, content_type text NOT NULL,
                    byte_count bigint NOT NULL, digest text NOT NULL, created_at timestamptz NOT NULL,
                    position bigint GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (job_id, name))
                """,
                """
                CREATE TABLE job_steps (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job_id text NOT NULL REFERENCES jobs,
                    step_id text NOT NULL, status text NOT NULL, output bytea, artifacts text NOT NULL,
                    attempts bigint NOT NULL, interruptions bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL,
                    UNIQUE (job_id, step_id))
                """,
                """
                CREATE TABLE files (
                    id text PRIMARY KEY, tenant_id text NOT NULL REFERENCES tenants, name text NOT NULL,
                    content_type text NOT NULL, byte_count bigint NOT NULL, digest text NOT NULL,
                    created_at timestamptz NOT NULL)
                """,
                "CREATE INDEX files_by_tenant ON files (tenant_id, byte_count)",
                """
                CREATE TABLE idempotency_keys (
                    tenant_id text NOT NULL, key text NOT NULL, request_hash text, status bigint, headers text,
                    body bytea, locked_until timestamptz, created_at timestamptz NOT NULL, PRIMARY KEY (tenant_id, key))
                """,
                "CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at)",
                """
                CREATE TABLE webhook_events (
                    id text PRIMARY KEY, tenant_id text NOT NULL, job_id text NOT NULL UNIQUE REFERENCES jobs,
                    type text NOT NULL, url text NOT NULL, payload bytea NOT NULL, state text NOT NULL,
                    attempts bigint NOT NULL, next_attempt_at timestamptz NOT NULL, created_at timestamptz NOT NULL,
                    lease_holder text, lease_expires_at timestamptz)
                """,
                "CREATE INDEX webhook_events_due ON webhook_events (state, next_attempt_at)",
                """
                CREATE TABLE webhook_attempts (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id text NOT NULL REFERENCES webhook_events,
                    number bigint NOT NULL, status_code bigint, error text, duration_ms bigint NOT NULL,
                    at timestamptz NOT NULL)
                """,
                "CREATE INDEX webhook_attempts_by_event ON webhook_attempts (event_id)",
                """
                CREATE TABLE limits (
                    subject_kind text NOT NULL, subject_id text NOT NULL, document text NOT NULL,
                    updated_at timestamptz NOT NULL, PRIMARY KEY (subject_kind, subject_id))
                """,
                """
                CREATE TABLE spend (
                    job_id text NOT NULL, step_id text NOT NULL, tenant_id text NOT NULL, api_key_prefix text,
                    network_cost bigint NOT NULL, amount bigint NOT NULL, at timestamptz NOT NULL,
                    PRIMARY KEY (job_id, step_id))
                """,
                "CREATE INDEX spend_by_tenant_and_time ON spend (tenant_id, at)",
                "CREATE INDEX spend_by_key_and_time ON spend (api_key_prefix, at)",
                """
                CREATE TABLE spend_totals (
                    tenant_id text NOT NULL, api_key_prefix text NOT NULL, period text NOT NULL, amount bigint NOT NULL,
                    PRIMARY KEY (tenant_id, api_key_prefix, period))
                """,
                """
                CREATE TABLE spend_intents (
                    job_id text NOT NULL, step_id text NOT NULL, tenant_id text NOT NULL, api_key_prefix text,
                    node text NOT NULL, network_cost bigint, created_at timestamptz NOT NULL, PRIMARY KEY (job_id, step_id))
                """,
                "CREATE INDEX spend_intents_by_node ON spend_intents (node)",
                """
                CREATE TABLE audit_log (
                    sequence bigint PRIMARY KEY, at_ms bigint NOT NULL, actor text NOT NULL, action text NOT NULL,
                    target text, source text, result text NOT NULL, detail text, previous_hash text NOT NULL,
                    hash text NOT NULL)
                """,
                "CREATE INDEX audit_log_by_time ON audit_log (at_ms)",
                "CREATE TABLE task_leases (name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL)",
            ]
        ),
        Migration(
            identifier: "2026-12-09-shared-limits",
            statements: [
                // One row per rate-limited subject: its theoretical arrival time (seconds since 1970 on
                // the database's clock) and the limit it was computed under.
                """
                CREATE TABLE rate_buckets (
                    subject text PRIMARY KEY, tat double precision NOT NULL, interval_s double precision NOT NULL,
                    capacity_s double precision NOT NULL)
                """,
                // GCRA over several buckets in one call: rows locked in subject order (no deadlock between
                // requests that share buckets), a request counted in all of them or in none.
                """
                CREATE FUNCTION wharf_admit_request(subjects text[], intervals float8[], capacities float8[],
                    OUT allowed boolean, OUT refused integer, OUT wait float8, OUT ahead float8[])
                LANGUAGE plpgsql AS $$
                DECLARE
                    now_s float8 := extract(epoch FROM clock_timestamp());
                    n integer := coalesce(array_length(subjects, 1), 0);
                    tats float8[] := array_fill(0::float8, ARRAY[n]);
                    arrivals float8[] := array_fill(0::float8, ARRAY[n]);
                    stored record;
                BEGIN
                    refused := NULL;
                    wait := 0;
                    ahead := array_fill(0::float8, ARRAY[n]);
                    INSERT INTO rate_buckets (subject, tat, interval_s, capacity_s)
                        SELECT s, 0, 0, 0 FROM unnest(subjects) AS s ON CONFLICT (subject) DO NOTHING;
                    PERFORM 1 FROM rate_buckets WHERE subject = ANY(subjects) ORDER BY subject FOR UPDATE;
                    FOR i IN 1..n LOOP
                        SELECT tat, interval_s, capacity_s INTO stored FROM rate_buckets WHERE subject = subjects[i];
                        -- A changed limit starts with a full bucket.
                        IF stored.interval_s = intervals[i] AND stored.capacity_s = capacities[i] THEN
                            tats[i] := stored.tat;
                        END IF;
                        arrivals[i] := greatest(tats[i], now_s) + intervals[i];
                        IF arrivals[i] - now_s > capacities[i] + 1e-9
                            AND (refused IS NULL OR arrivals[i] - capacities[i] - now_s > wait) THEN
                            refused := i;
                            wait := arrivals[i] - capacities[i] - now_s;
                        END IF;
                    END LOOP;
                    allowed := refused IS NULL;
                    FOR i IN 1..n LOOP
                        IF allowed THEN
                            tats[i] := arrivals[i];
                        END IF;
                        UPDATE rate_buckets SET tat = tats[i], interval_s = intervals[i], capacity_s = capacities[i]
                            WHERE subject = subjects[i];
                        ahead[i] := greatest(tats[i] - now_s, 0);
                    END LOOP;
                END
                $$
                """,
                // A job's place under each concurrency limit it is under: running or waiting, held by a
                // node until it lapses (a stopped node's places free themselves).
                """
                CREATE TABLE job_slots (
                    job_id text NOT NULL, subject text NOT NULL, state text NOT NULL, max_running bigint NOT NULL,
                    holder text NOT NULL, expires_at timestamptz NOT NULL, created_at timestamptz NOT NULL,
                    PRIMARY KEY (job_id, subject))
                """,
                "CREATE INDEX job_slots_by_subject ON job_slots (subject, state, created_at)",
                "CREATE INDEX job_slots_by_holder ON job_slots (holder)",
            ]
        ),
        Migration(
            identifier: "2026-12-10-job-events",
            statements: [
                // Every event of a preset job, so that any node can tell the story of a job another
                // node runs; each append notifies `wharf_job_events` with the job's id.
                """
                CREATE TABLE job_events (
                    job_id text NOT NULL, sequence bigint NOT NULL, kind text NOT NULL, step_id text,
                    attempt bigint NOT NULL, detail text NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (job_id, sequence))
                """
            ]
        ),
        Migration(
            identifier: "2026-12-11-job-slots-per-holder",
            statements: [
                // A job two nodes both hold for a moment (one submitted it, another's resumer claimed
                // it) has a place per node: each gives back only its own.
                "ALTER TABLE job_slots DROP CONSTRAINT job_slots_pkey",
                "ALTER TABLE job_slots ADD PRIMARY KEY (job_id, subject, holder)",
            ]
        ),
        Migration(
            identifier: "2026-12-12-budget-holds",
            statements: [
                // What each node's jobs under way may still spend, so that budget decisions on any
                // node count every node's jobs; a stopped node's holds lapse.
                """
                CREATE TABLE budget_holds (
                    job_id text NOT NULL, holder text NOT NULL, tenant_id text NOT NULL, key_prefix text,
                    amount bigint NOT NULL, expires_at timestamptz NOT NULL, PRIMARY KEY (job_id, holder))
                """,
                "CREATE INDEX budget_holds_by_tenant ON budget_holds (tenant_id, key_prefix)",
                "CREATE INDEX budget_holds_by_holder ON budget_holds (holder)",
            ]
        ),
        Migration(
            identifier: "2026-12-13-analytics-rollups",
            statements: [
                // Sums of requests, jobs and attempts per time bucket and dimension value, with
                // their latencies as a mergeable histogram (docs/ANALYTICS.md).
                """
                CREATE TABLE analytics_rollups (
                    fact text NOT NULL, resolution text NOT NULL, dimension text NOT NULL, filter_dimension text NOT NULL,
                    filter_value text NOT NULL, bucket bigint NOT NULL, value text NOT NULL, count bigint NOT NULL,
                    succeeded bigint NOT NULL, cost_wei bigint NOT NULL, revenue bigint NOT NULL, latency_max_ms bigint NOT NULL,
                    histogram bytea NOT NULL,
                    PRIMARY KEY (fact, resolution, dimension, filter_dimension, filter_value, bucket, value))
                """,
                "CREATE INDEX network_attempts_by_time ON network_attempts (ended_at)",
            ]
        ),
        Migration(
            identifier: "2026-12-14-spend-usage",
            statements: [
                // What each charge was for (invoice lines, usage reports).
                "ALTER TABLE spend ADD COLUMN pipeline text, ADD COLUMN model text, ADD COLUMN units bigint",
                "CREATE INDEX spend_by_time ON spend (at, job_id, step_id)",
            ]
        ),
        Migration(
            identifier: "2026-12-15-price-books",
            statements: [
                // Customer prices (docs/BILLING.md): each book as its JSON document, and which tenant pays by which.
                "CREATE TABLE price_books (name text PRIMARY KEY, document text NOT NULL, updated_at timestamptz NOT NULL)",
                """
                CREATE TABLE tenant_price_books (
                    tenant_id text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
                    book text NOT NULL REFERENCES price_books (name)
                )
                """,
            ]
        ),
        Migration(
            identifier: "2026-12-16-export-cursors",
            statements: [
                // How far ordered exports (usage events pushed to a webhook) have got.
                "CREATE TABLE export_cursors (name text PRIMARY KEY, cursor text NOT NULL, updated_at timestamptz NOT NULL)"
            ]
        ),
    ]
}

extension PostgresStore: StoreLifecycle {
    public func migrate() async throws -> [String] {
        try await transaction { connection in
            // Nodes starting together queue here; the second finds the work done.
            try await connection.query("SELECT pg_advisory_xact_lock(\(AdvisoryLock.migrations.rawValue))", logger: self.logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS wharf_migrations (identifier text PRIMARY KEY, applied_at timestamptz NOT NULL)",
                logger: self.logger
            )
            let applied = try await Self.appliedIdentifiers(connection, logger: self.logger)
            try Self.refuseNewer(applied, location: self.location)
            var ran: [String] = []
            for migration in Self.migrations where !applied.contains(migration.identifier) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                try await connection.query(
                    "INSERT INTO wharf_migrations (identifier, applied_at) VALUES (\(migration.identifier), \(Date()))",
                    logger: self.logger
                )
                ran.append(migration.identifier)
            }
            return ran
        }
    }

    public func readiness() async -> StoreReadiness {
        do {
            // A health check answers quickly: a load balancer's probe has a short timeout of its own.
            let applied = try await leased(within: min(acquireTimeout, .seconds(2))) { connection in
                let exists = try await connection.rows("SELECT to_regclass('wharf_migrations') IS NOT NULL AS present", logger: self.logger)
                guard try exists.first?["present"].decode(Bool.self) == true else { return Set<String>() }
                return try await Self.appliedIdentifiers(connection, logger: self.logger)
            }
            let complete = Self.migrations.allSatisfy { applied.contains($0.identifier) }
            return StoreReadiness(reachable: true, migrated: complete, detail: complete ? nil : "migrations pending; run `wharf migrate`")
        } catch {
            return StoreReadiness(reachable: false, migrated: false, detail: "PostgreSQL at \(location): \(error)")
        }
    }

    /// The identifiers of the migrations applied to this database, in this build's order.
    public func appliedMigrations() async throws -> [String] {
        let applied = Set(try await rows("SELECT identifier FROM wharf_migrations").map { try $0["identifier"].decode(String.self) })
        return Self.migrations.map(\.identifier).filter(applied.contains)
    }

    static func appliedIdentifiers(_ connection: PostgresConnection, logger: Logger) async throws -> Set<String> {
        Set(
            try await connection.rows("SELECT identifier FROM wharf_migrations", logger: logger).map {
                try $0["identifier"].decode(String.self)
            }
        )
    }

    /// Refuses a database a newer Wharf migrated: its schema may mean things this build does not know.
    static func refuseNewer(_ applied: Set<String>, location: String) throws {
        let known = Set(migrations.map(\.identifier))
        if let unknown = applied.subtracting(known).sorted().last {
            throw WharfError(
                .storeIncompatible,
                "the database at \(location) was migrated by a newer Wharf (\(unknown)); upgrade Wharf to use it"
            )
        }
    }
}
