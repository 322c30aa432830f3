import { type Kysely, sql } from "kysely";

/**
 * Alert rules: a condition on a function's (or the whole tenant's) metrics over a window, and the
 * webhook told when it starts and stops holding. `state` is the rule's current verdict, written by
 * the scheduler's leader; `alert_events` is the history the API lists (firing and resolved
 * notifications with how their delivery went).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("alert_rules")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    // Null: every function of the tenant together.
    .addColumn("function_id", "text", (c) => c.references("functions.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("metric", "text", (c) => c.notNull())
    .addColumn("threshold", "double precision", (c) => c.notNull())
    .addColumn("window_ms", "integer", (c) => c.notNull())
    .addColumn("min_invocations", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("webhook", "jsonb", (c) => c.notNull())
    .addColumn("paused", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("state", "text", (c) => c.notNull().defaultTo("ok"))
    .addColumn("last_value", "double precision")
    .addColumn("last_evaluated_at", "timestamptz")
    .addColumn("state_since", "timestamptz")
    .addColumn("last_error", "text")
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint(
      "alert_rules_metric_check",
      sql`metric in ('error_rate', 'p95_ms', 'throttles', 'dead_letters', 'failed_deploys')`,
    )
    .addCheckConstraint("alert_rules_state_check", sql`state in ('ok', 'firing')`)
    .addUniqueConstraint("alert_rules_name_unique", ["tenant_id", "name"])
    .execute();
  await db.schema
    .createTable("alert_events")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("rule_id", "text", (c) => c.notNull().references("alert_rules.id").onDelete("cascade"))
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("value", "double precision")
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("delivered", "boolean", (c) => c.notNull())
    .addColumn("status_code", "integer")
    .addColumn("error", "text")
    .addCheckConstraint("alert_events_kind_check", sql`kind in ('firing', 'resolved')`)
    .execute();
  await db.schema
    .createIndex("alert_events_rule_idx")
    .on("alert_events")
    .columns(["tenant_id", "rule_id", "at desc"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("alert_events").ifExists().execute();
  await db.schema.dropTable("alert_rules").ifExists().execute();
}
