import { type Kysely, sql } from "kysely";

/**
 * Event triggers: a trigger of kind "event" subscribes its function to the tenant's events whose
 * type matches `event_pattern` (a cron trigger has a schedule instead). `events` keeps what was
 * published, and `event_deliveries` which triggers each event fanned out to and as which
 * invocation, so `GET /v1/events` joins the invocation records for each delivery's outcome.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("triggers").addColumn("event_pattern", "text").execute();
  await db.schema
    .alterTable("triggers")
    .alterColumn("schedule", (c) => c.dropNotNull())
    .execute();
  await db.schema.alterTable("triggers").dropConstraint("triggers_kind_check").execute();
  await db.schema
    .alterTable("triggers")
    .addCheckConstraint(
      "triggers_kind_check",
      sql`(kind = 'cron' and schedule is not null) or (kind = 'event' and event_pattern is not null)`,
    )
    .execute();
  // The publish path's query: a tenant's active event triggers.
  await db.schema
    .createIndex("triggers_event_idx")
    .on("triggers")
    .column("tenant_id")
    .where(sql.ref("kind"), "=", "event")
    .execute();
  await db.schema
    .createTable("events")
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("id", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("data", "jsonb")
    .addColumn("published_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("published_by", "text")
    .addPrimaryKeyConstraint("events_pkey", ["tenant_id", "id"])
    .execute();
  await db.schema
    .createIndex("events_recent_idx")
    .on("events")
    .columns(["tenant_id", "published_at desc", "id desc"])
    .execute();
  await db.schema
    .createTable("event_deliveries")
    .addColumn("tenant_id", "text", (c) => c.notNull())
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("trigger_id", "text", (c) => c.notNull())
    .addColumn("function_id", "text", (c) => c.notNull())
    .addColumn("invocation_id", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("event_deliveries_pkey", ["tenant_id", "event_id", "trigger_id"])
    .addForeignKeyConstraint(
      "event_deliveries_event_fk",
      ["tenant_id", "event_id"],
      "events",
      ["tenant_id", "id"],
      (c) => c.onDelete("cascade"),
    )
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("event_deliveries").ifExists().execute();
  await db.schema.dropTable("events").ifExists().execute();
  await db.schema.dropIndex("triggers_event_idx").ifExists().execute();
  await sql`delete from triggers where kind = 'event'`.execute(db);
  await db.schema.alterTable("triggers").dropConstraint("triggers_kind_check").execute();
  await db.schema
    .alterTable("triggers")
    .addCheckConstraint("triggers_kind_check", sql`kind in ('cron')`)
    .execute();
  await db.schema
    .alterTable("triggers")
    .alterColumn("schedule", (c) => c.setNotNull())
    .execute();
  await db.schema.alterTable("triggers").dropColumn("event_pattern").execute();
}
