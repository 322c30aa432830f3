import { type Kysely, sql } from "kysely";

/**
 * Triggers: what invokes a function besides HTTP. Only cron triggers exist so far. A trigger holds
 * its definition and its state; `next_fire_at` is the scheduler's cursor (the next slot to fire) and
 * `last_scheduled_at` the last slot it fired, so a new leader continues where the old one stopped.
 * Invocation records name the trigger that started them (`trigger_id`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("triggers")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("function_id", "text", (c) => c.notNull().references("functions.id").onDelete("cascade"))
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull().defaultTo("live"))
    .addColumn("schedule", "text", (c) => c.notNull())
    .addColumn("timezone", "text", (c) => c.notNull().defaultTo("UTC"))
    .addColumn("overlap", "text", (c) => c.notNull().defaultTo("skip"))
    .addColumn("catch_up", "text", (c) => c.notNull().defaultTo("skip"))
    .addColumn("catch_up_window_ms", "integer", (c) => c.notNull().defaultTo(3_600_000))
    .addColumn("paused", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("next_fire_at", "timestamptz")
    .addColumn("last_scheduled_at", "timestamptz")
    .addColumn("last_fired_at", "timestamptz")
    .addColumn("last_invocation_id", "text")
    .addColumn("last_status", "text")
    .addColumn("consecutive_failures", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_error", "text")
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("triggers_kind_check", sql`kind in ('cron')`)
    .addCheckConstraint("triggers_overlap_check", sql`overlap in ('skip', 'allow')`)
    .addCheckConstraint("triggers_catch_up_check", sql`catch_up in ('skip', 'once', 'all')`)
    .addCheckConstraint("triggers_source_check", sql`source in ('config', 'api')`)
    .execute();
  await db.schema
    .createIndex("triggers_function_idx")
    .on("triggers")
    .columns(["tenant_id", "function_id", "id"])
    .execute();
  // The scheduler's tick: the triggers that are due.
  await db.schema
    .createIndex("triggers_due_idx")
    .on("triggers")
    .column("next_fire_at")
    .where(sql.ref("paused"), "=", false)
    .execute();
  await db.schema.alterTable("invocations").addColumn("trigger_id", "text").execute();
  await db.schema
    .createIndex("invocations_trigger_idx")
    .on("invocations")
    .columns(["tenant_id", "trigger_id", "started_at desc"])
    .where(sql.ref("trigger_id"), "is not", null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("invocations_trigger_idx").ifExists().execute();
  await db.schema.alterTable("invocations").dropColumn("trigger_id").execute();
  await db.schema.dropTable("triggers").ifExists().execute();
}
