import { type Kysely, sql } from "kysely";

/**
 * Queue and database triggers, overlap "queue", jitter and failure alerts.
 *
 * - `settings`: what a queue or database trigger listens to (queue name, batch size and window,
 *   broker; database secret, tables, events, columns, row filter), as JSON because each kind has
 *   its own shape and the API validates it. Null for cron and event triggers, whose definition has
 *   columns of its own.
 * - `source_state`: what the trigger's consumer reports about its source (queue lag, replication
 *   slot and confirmed LSN, the connection error), shown in the trigger state.
 * - `queued_slot`: overlap "queue": a slot that came while the previous run was in flight, fired
 *   when that run ends (at most one waits; later slots follow the catch-up policy).
 * - `jitter_ms`: a random delay up to this long before each cron firing (spreads load).
 * - `alert`: `{url, after, format, secret}`: a webhook told after `after` consecutive failed runs,
 *   and again when a run succeeds; `alert_status` says which was sent last, `alert_delivery` how
 *   the last delivery went.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("triggers")
    .addColumn("settings", "jsonb")
    .addColumn("source_state", "jsonb")
    .addColumn("queued_slot", "timestamptz")
    .addColumn("jitter_ms", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("alert", "jsonb")
    .addColumn("alert_status", "text", (c) => c.notNull().defaultTo("ok"))
    .addColumn("alert_delivery", "jsonb")
    .execute();
  await db.schema.alterTable("triggers").dropConstraint("triggers_kind_check").execute();
  await db.schema
    .alterTable("triggers")
    .addCheckConstraint(
      "triggers_kind_check",
      sql`(kind = 'cron' and schedule is not null) or (kind = 'event' and event_pattern is not null)
        or (kind in ('queue', 'database') and settings is not null)`,
    )
    .execute();
  await db.schema.alterTable("triggers").dropConstraint("triggers_overlap_check").execute();
  await db.schema
    .alterTable("triggers")
    .addCheckConstraint("triggers_overlap_check", sql`overlap in ('skip', 'allow', 'queue')`)
    .execute();
  await db.schema
    .alterTable("triggers")
    .addCheckConstraint("triggers_alert_status_check", sql`alert_status in ('ok', 'alerting')`)
    .execute();
  // The scheduler's consumers: every queue and database trigger of every tenant.
  await db.schema
    .createIndex("triggers_source_idx")
    .on("triggers")
    .column("kind")
    .where(sql.ref("kind"), "in", sql`('queue', 'database')`)
    .execute();
  // Overlap "queue": slots waiting for the previous run to end.
  await db.schema
    .createIndex("triggers_queued_slot_idx")
    .on("triggers")
    .column("queued_slot")
    .where(sql.ref("queued_slot"), "is not", null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("triggers_queued_slot_idx").ifExists().execute();
  await db.schema.dropIndex("triggers_source_idx").ifExists().execute();
  await sql`delete from triggers where kind in ('queue', 'database')`.execute(db);
  await sql`update triggers set overlap = 'skip' where overlap = 'queue'`.execute(db);
  await db.schema.alterTable("triggers").dropConstraint("triggers_alert_status_check").execute();
  await db.schema.alterTable("triggers").dropConstraint("triggers_overlap_check").execute();
  await db.schema
    .alterTable("triggers")
    .addCheckConstraint("triggers_overlap_check", sql`overlap in ('skip', 'allow')`)
    .execute();
  await db.schema.alterTable("triggers").dropConstraint("triggers_kind_check").execute();
  await db.schema
    .alterTable("triggers")
    .addCheckConstraint(
      "triggers_kind_check",
      sql`(kind = 'cron' and schedule is not null) or (kind = 'event' and event_pattern is not null)`,
    )
    .execute();
  await db.schema
    .alterTable("triggers")
    .dropColumn("settings")
    .dropColumn("source_state")
    .dropColumn("queued_slot")
    .dropColumn("jitter_ms")
    .dropColumn("alert")
    .dropColumn("alert_status")
    .dropColumn("alert_delivery")
    .execute();
}
