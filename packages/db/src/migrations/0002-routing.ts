import { type Kysely, sql } from "kysely";

/**
 * Versions say what they changed; gradual rollouts; tenant-defined routes and custom domains.
 * Hostnames are unique across tenants on purpose: a claim (pending or verified) belongs to one tenant.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("versions").addColumn("changes", "jsonb").execute();

  await db.schema
    .createTable("rollouts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("function_id", "text", (c) => c.notNull().references("functions.id").onDelete("cascade"))
    .addColumn("alias", "text", (c) => c.notNull())
    .addColumn("from_version", "integer", (c) => c.notNull())
    .addColumn("to_version", "integer", (c) => c.notNull())
    .addColumn("steps", "jsonb", (c) => c.notNull())
    .addColumn("step_index", "integer", (c) => c.notNull())
    .addColumn("interval_ms", "integer", (c) => c.notNull())
    .addColumn("max_error_rate", "double precision", (c) => c.notNull())
    .addColumn("min_requests", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) =>
      c.notNull().check(sql`status in ('running','completed','rolled_back','cancelled')`),
    )
    .addColumn("step_started_at", "timestamptz", (c) => c.notNull())
    .addColumn("next_step_at", "timestamptz", (c) => c.notNull())
    .addColumn("last_error_rate", "double precision")
    .addColumn("last_total", "integer")
    .addColumn("reason", "text")
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("finished_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("rollouts_function_idx")
    .on("rollouts")
    .columns(["tenant_id", "function_id", "created_at"])
    .execute();
  // The drivers' claim query scans only running rollouts.
  await db.schema
    .createIndex("rollouts_due_idx")
    .on("rollouts")
    .column("next_step_at")
    .where(sql.ref("status"), "=", "running")
    .execute();
  // At most one running rollout per alias.
  await db.schema
    .createIndex("rollouts_running_alias_key")
    .on("rollouts")
    .columns(["function_id", "alias"])
    .unique()
    .where(sql.ref("status"), "=", "running")
    .execute();

  await db.schema
    .createTable("domains")
    .addColumn("hostname", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('pending','verified')`))
    .addColumn("token", "text", (c) => c.notNull())
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("verified_at", "timestamptz")
    .addColumn("verified_by", "text")
    .execute();
  await db.schema
    .createIndex("domains_tenant_idx")
    .on("domains")
    .columns(["tenant_id", "hostname"])
    .execute();

  await db.schema
    .createTable("routes")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("method", "text", (c) => c.notNull())
    .addColumn("path", "text", (c) => c.notNull())
    .addColumn("pattern_key", "text", (c) => c.notNull())
    .addColumn("host", "text")
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex("routes_tenant_idx")
    .on("routes")
    .columns(["tenant_id", "created_at", "id"])
    .execute();
  // Exact duplicates are refused by the database too; ANY-vs-method overlaps are checked under a lock.
  await sql`create unique index routes_pattern_key on routes (tenant_id, coalesce(host, ''), method, pattern_key)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["routes", "domains", "rollouts"])
    await db.schema.dropTable(table).ifExists().execute();
  await db.schema.alterTable("versions").dropColumn("changes").execute();
}
