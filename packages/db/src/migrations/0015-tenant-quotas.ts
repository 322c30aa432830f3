import { type Kysely, sql } from "kysely";

/**
 * Tenant quotas the platform admin sets (a null column: the installation's default from the
 * gateway's KUMO_QUOTA_* settings, unlimited unless configured). Also the audit log's client address
 * and outcome (failed and refused management actions are recorded too), with an index on `at` for
 * the retention purge.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("tenant_quotas")
    .addColumn("tenant_id", "text", (c) => c.primaryKey().references("tenants.id").onDelete("cascade"))
    .addColumn("functions", "integer")
    .addColumn("versions_per_function", "integer")
    .addColumn("concurrency", "integer")
    .addColumn("invocations_per_day", "bigint")
    .addColumn("build_minutes_per_day", "integer")
    .addColumn("stored_bytes", "bigint")
    .addColumn("updated_by", "text")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .alterTable("audit_events")
    .addColumn("address", "text")
    .addColumn("outcome", "text", (c) => c.notNull().defaultTo("ok"))
    .execute();
  await db.schema.createIndex("audit_events_at_idx").on("audit_events").columns(["at"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("audit_events_at_idx").ifExists().execute();
  await db.schema.alterTable("audit_events").dropColumn("address").dropColumn("outcome").execute();
  await db.schema.dropTable("tenant_quotas").ifExists().execute();
}
