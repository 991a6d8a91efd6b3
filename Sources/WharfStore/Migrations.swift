import GRDB

extension SQLiteStore {
    /// The schema's history. Append new migrations at the end; never edit or reorder applied ones:
    /// their identifiers are recorded in every database that ran them.
    static func makeMigrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("2026-11-25-tenants-keys-jobs") { db in
            try db.create(table: "tenants") { table in
                table.primaryKey("id", .text)
                table.column("name", .text).notNull().unique()
                table.column("created_at", .datetime).notNull()
            }
            try db.create(table: "api_keys") { table in
                table.primaryKey("prefix", .text)
                table.column("tenant_id", .text).notNull().references("tenants")
                table.column("name", .text).notNull()
                table.column("scopes", .text).notNull()
                table.column("secret_hash", .blob).notNull()
                table.column("created_at", .datetime).notNull()
                table.column("revoked_at", .datetime)
            }
            try db.create(table: "jobs") { table in
                table.primaryKey("id", .text)
                table.column("tenant_id", .text).notNull().references("tenants")
                table.column("kind", .text).notNull()
                table.column("status", .text).notNull()
                table.column("request", .blob).notNull()
                table.column("result", .blob)
                table.column("created_at", .datetime).notNull()
                table.column("updated_at", .datetime).notNull()
            }
            try db.create(index: "jobs_by_tenant_and_time", on: "jobs", columns: ["tenant_id", "created_at"])
        }
        migrator.registerMigration("2026-11-26-attempts-artifacts") { db in
            try db.create(table: "network_attempts") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("job_id", .text).notNull().references("jobs")
                table.column("orchestrator", .text).notNull()
                table.column("outcome", .text).notNull()
                table.column("latency_ms", .integer).notNull()
                table.column("price_per_unit", .integer).notNull()
                table.column("pixels_per_unit", .integer).notNull()
                table.column("ended_at", .datetime).notNull()
            }
            try db.create(index: "network_attempts_by_job", on: "network_attempts", columns: ["job_id"])
            try db.create(
                index: "network_attempts_by_orchestrator_and_time",
                on: "network_attempts",
                columns: ["orchestrator", "ended_at"]
            )
            try db.create(table: "artifacts") { table in
                table.column("job_id", .text).notNull().references("jobs")
                table.column("name", .text).notNull()
                table.column("content_type", .text).notNull()
                table.column("byte_count", .integer).notNull()
                table.column("data", .blob).notNull()
                table.column("created_at", .datetime).notNull()
                table.primaryKey(["job_id", "name"])
            }
        }
        migrator.registerMigration("2026-11-27-job-steps") { db in
            try db.create(table: "job_steps") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("job_id", .text).notNull().references("jobs")
                table.column("step_id", .text).notNull()
                table.column("status", .text).notNull()
                table.column("output", .blob)
                table.column("artifacts", .text).notNull()
                table.column("attempts", .integer).notNull()
                table.column("updated_at", .datetime).notNull()
                table.uniqueKey(["job_id", "step_id"])
            }
            try db.create(index: "jobs_by_status", on: "jobs", columns: ["status", "created_at"])
        }
        migrator.registerMigration("2026-11-28-artifact-files") { db in
            // Artifact bytes move to content-addressed files; `data` stays for rows written before.
            try db.alter(table: "artifacts") { table in table.add(column: "digest", .text) }
        }
        migrator.registerMigration("2026-11-29-v2-files-idempotency-webhooks") { db in
            try db.alter(table: "api_keys") { table in table.add(column: "revision", .text) }
            try db.alter(table: "tenants") { table in table.add(column: "webhook_secret", .text) }
            try db.create(table: "files") { table in
                table.primaryKey("id", .text)
                table.column("tenant_id", .text).notNull().references("tenants")
                table.column("name", .text).notNull()
                table.column("content_type", .text).notNull()
                table.column("byte_count", .integer).notNull()
                table.column("digest", .text).notNull()
                table.column("created_at", .datetime).notNull()
            }
            try db.create(table: "idempotency_keys") { table in
                table.column("tenant_id", .text).notNull()
                table.column("key", .text).notNull()
                table.column("request_hash", .text)
                table.column("status", .integer)
                table.column("headers", .text)
                table.column("body", .blob)
                table.column("locked_until", .datetime)
                table.column("created_at", .datetime).notNull()
                table.primaryKey(["tenant_id", "key"])
            }
            try db.create(index: "idempotency_keys_by_time", on: "idempotency_keys", columns: ["created_at"])
            try db.create(table: "webhook_events") { table in
                table.primaryKey("id", .text)
                table.column("tenant_id", .text).notNull()
                table.column("job_id", .text).notNull().references("jobs")
                table.column("type", .text).notNull()
                table.column("url", .text).notNull()
                table.column("payload", .blob).notNull()
                table.column("state", .text).notNull()
                table.column("attempts", .integer).notNull()
                table.column("next_attempt_at", .datetime).notNull()
                table.column("created_at", .datetime).notNull()
            }
            try db.create(index: "webhook_events_due", on: "webhook_events", columns: ["state", "next_attempt_at"])
            try db.create(index: "webhook_events_by_job", on: "webhook_events", columns: ["job_id"])
            try db.create(table: "webhook_attempts") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("event_id", .text).notNull().references("webhook_events")
                table.column("number", .integer).notNull()
                table.column("status_code", .integer)
                table.column("error", .text)
                table.column("duration_ms", .integer).notNull()
                table.column("at", .datetime).notNull()
            }
            try db.create(index: "webhook_attempts_by_event", on: "webhook_attempts", columns: ["event_id"])
        }
        migrator.registerMigration("2026-11-30-policy-spend-audit") { db in
            try db.alter(table: "jobs") { table in table.add(column: "api_key_prefix", .text) }
            try db.create(table: "limits") { table in
                table.column("subject_kind", .text).notNull()
                table.column("subject_id", .text).notNull()
                table.column("document", .text).notNull()
                table.column("updated_at", .datetime).notNull()
                table.primaryKey(["subject_kind", "subject_id"])
            }
            try db.create(table: "spend") { table in
                table.column("job_id", .text).notNull()
                table.column("step_id", .text).notNull()
                table.column("tenant_id", .text).notNull()
                table.column("api_key_prefix", .text)
                table.column("network_cost", .integer).notNull()
                table.column("amount", .integer).notNull()
                table.column("at", .datetime).notNull()
                table.primaryKey(["job_id", "step_id"])
            }
            try db.create(index: "spend_by_tenant_and_time", on: "spend", columns: ["tenant_id", "at"])
            try db.create(index: "spend_by_key_and_time", on: "spend", columns: ["api_key_prefix", "at"])
            try db.create(table: "audit_log") { table in
                table.primaryKey("sequence", .integer)
                table.column("at_ms", .integer).notNull()
                table.column("actor", .text).notNull()
                table.column("action", .text).notNull()
                table.column("target", .text)
                table.column("source", .text)
                table.column("result", .text).notNull()
                table.column("detail", .text)
                table.column("previous_hash", .text).notNull()
                table.column("hash", .text).notNull()
            }
            try db.create(index: "audit_log_by_time", on: "audit_log", columns: ["at_ms"])
        }
        migrator.registerMigration("2026-12-01-spend-totals") { db in
            // Running totals, so a budget check is one lookup however much a tenant has spent. The
            // tenant's own total has an empty key prefix.
            try db.create(table: "spend_totals") { table in
                table.column("tenant_id", .text).notNull()
                table.column("api_key_prefix", .text).notNull()
                table.column("period", .text).notNull()
                table.column("amount", .integer).notNull()
                table.primaryKey(["tenant_id", "api_key_prefix", "period"])
            }
            // What was spent before the totals existed (GRDB stores dates as UTC text).
            for (prefix, period) in [
                ("''", "'day:' || strftime('%Y-%m-%d', at)"), ("''", "'month:' || strftime('%Y-%m', at)"),
                ("api_key_prefix", "'day:' || strftime('%Y-%m-%d', at)"), ("api_key_prefix", "'month:' || strftime('%Y-%m', at)"),
            ] {
                try db.execute(
                    sql: """
                        INSERT INTO spend_totals (tenant_id, api_key_prefix, period, amount)
                        SELECT tenant_id, \(prefix), \(period), SUM(amount) FROM spend
                        WHERE \(prefix) IS NOT NULL GROUP BY 1, 2, 3
                        """
                )
            }
        }
        migrator.registerMigration("2026-12-02-leases") { db in
            // Who runs a job, delivers a webhook event or does a periodic task, and until when
            // (several gateway nodes on one database; see LeaseStore).
            for table in ["jobs", "webhook_events"] {
                try db.alter(table: table) { table in
                    table.add(column: "lease_holder", .text)
                    table.add(column: "lease_expires_at", .datetime)
                }
            }
            try db.create(table: "task_leases") { table in
                table.primaryKey("name", .text)
                table.column("holder", .text).notNull()
                table.column("expires_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("2026-12-03-step-interruptions") { db in
            // How many times a step's gateway stopped while it ran (`jobs.max_crash_resumes`).
            try db.alter(table: "job_steps") { table in
                table.add(column: "interruptions", .integer).notNull().defaults(to: 0)
            }
        }
        migrator.registerMigration("2026-12-04-files-by-tenant") { db in
            // A tenant's storage is counted at each upload against its quota.
            try db.create(index: "files_by_tenant", on: "files", columns: ["tenant_id", "byte_count"])
        }
        migrator.registerMigration("2026-12-05-webhook-outbox") { db in
            // One event per job, so telling a job's end twice (its node, then the outbox sweep after a
            // crash) queues it once; and the sweep finds recently ended jobs by time.
            try db.drop(index: "webhook_events_by_job")
            try db.create(index: "webhook_events_one_per_job", on: "webhook_events", columns: ["job_id"], unique: true)
            try db.create(index: "jobs_by_end", on: "jobs", columns: ["updated_at"])
        }
        migrator.registerMigration("2026-12-06-spend-intents") { db in
            // A paid step on its way, until its charge settles it: what a gateway that stopped in
            // between reconciles when it starts again.
            try db.create(table: "spend_intents") { table in
                table.column("job_id", .text).notNull()
                table.column("step_id", .text).notNull()
                table.column("tenant_id", .text).notNull()
                table.column("api_key_prefix", .text)
                table.column("node", .text).notNull()
                table.column("network_cost", .integer)
                table.column("created_at", .datetime).notNull()
                table.primaryKey(["job_id", "step_id"])
            }
            try db.create(index: "spend_intents_by_node", on: "spend_intents", columns: ["node"])
        }
        migrator.registerMigration("2026-12-07-attempt-roles-decisions") { db in
            // Each attempt's step, why it was made (first, retry, hedge), what it cost the operator
            // (the winner and a hedge's loser), and why its orchestrator was chosen (JSON).
            try db.alter(table: "network_attempts") { table in
                table.add(column: "step_id", .text)
                table.add(column: "role", .text).notNull().defaults(to: "first")
                table.add(column: "cost_wei", .integer)
                table.add(column: "decision", .text)
            }
        }
        migrator.registerMigration("2026-12-13-analytics-rollups") { db in
            // Sums of requests, jobs and attempts per time bucket (minute, hour, day) and per value of
            // a dimension, with their latencies as a mergeable histogram (docs/ANALYTICS.md).
            try db.execute(
                sql: """
                    CREATE TABLE analytics_rollups (
                        fact TEXT NOT NULL, resolution TEXT NOT NULL, dimension TEXT NOT NULL,
                        filter_dimension TEXT NOT NULL, filter_value TEXT NOT NULL, bucket INTEGER NOT NULL,
                        value TEXT NOT NULL, count INTEGER NOT NULL, succeeded INTEGER NOT NULL,
                        cost_wei INTEGER NOT NULL, revenue INTEGER NOT NULL, latency_max_ms INTEGER NOT NULL,
                        histogram BLOB NOT NULL,
                        PRIMARY KEY (fact, resolution, dimension, filter_dimension, filter_value, bucket, value)
                    ) WITHOUT ROWID
                    """
            )
            // Raw attempts expire by age (`analytics.raw_retention_days`).
            try db.create(index: "network_attempts_by_time", on: "network_attempts", columns: ["ended_at"])
        }
        migrator.registerMigration("2026-12-14-spend-usage") { db in
            // What each charge was for (invoice lines, usage reports): the step's pipeline, model and units.
            try db.alter(table: "spend") { table in
                table.add(column: "pipeline", .text)
                table.add(column: "model", .text)
                table.add(column: "units", .integer)
            }
            try db.create(index: "spend_by_time", on: "spend", columns: ["at", "job_id", "step_id"])
        }
        migrator.registerMigration("2026-12-15-price-books") { db in
            // Customer prices (docs/BILLING.md): each book as its JSON document, and which tenant pays by which.
            try db.create(table: "price_books") { table in
                table.primaryKey("name", .text)
                table.column("document", .text).notNull()
                table.column("updated_at", .datetime).notNull()
            }
            try db.create(table: "tenant_price_books") { table in
                table.primaryKey("tenant_id", .text).references("tenants", onDelete: .cascade)
                table.column("book", .text).notNull().references("price_books", column: "name")
            }
        }
        migrator.registerMigration("2026-12-16-export-cursors") { db in
            // How far ordered exports (usage events pushed to a webhook) have got.
            try db.create(table: "export_cursors") { table in
                table.primaryKey("name", .text)
                table.column("cursor", .text).notNull()
                table.column("updated_at", .datetime).notNull()
            }
        }
        return migrator
    }
}
