import { type CreateTableBuilder, type Kysely, sql } from "kysely";

/**
 * Per-function metrics rollups (issue 13).
 *
 * - `function_metrics_minute`: what one writer process (a gateway's, an autoscaler's or a
 *   scheduler's recorder) saw finish in one minute, per (tenant, function, version, trigger kind).
 *   The writer id is part of the key, so every row has a single writer and a writer can replace
 *   its row whole; readers merge the rows of all writers. Durations and async queue ages are kept
 *   as DDSketch bytes (protobuf, 1 % relative accuracy) next to their count, sum, min and max, so
 *   percentiles merge across writers and minutes instead of being averaged.
 * - `function_metrics_hour`: the minute rows of an hour merged (all writers), made by compaction;
 *   `compacted` marks minute rows already merged into their hour (a late write clears it again).
 * - `function_metrics_watermark`: hours before `compacted_before` are complete in the hourly
 *   table, so readers take whole hours from there and the rest from the minutes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const [table, time] of [
    ["function_metrics_minute", "minute"],
    ["function_metrics_hour", "hour"],
  ] as const) {
    let create: CreateTableBuilder<string, string> = db.schema
      .createTable(table)
      .addColumn("tenant_id", "text", (c) => c.notNull())
      .addColumn("function_id", "text", (c) => c.notNull())
      // 0 when the record named no version (it failed before one was chosen).
      .addColumn("version", "integer", (c) => c.notNull())
      .addColumn("trigger", "text", (c) => c.notNull())
      .addColumn(time, "timestamptz", (c) => c.notNull());
    if (table === "function_metrics_minute")
      create = create.addColumn("writer_id", "text", (c) => c.notNull());
    create = create
      .addColumn("invocations", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("errors", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
      .addColumn("cold_starts", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
      .addColumn("throttles", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("retries", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("dead_letters", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("duration_count", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("duration_sum", "double precision", (c) => c.notNull().defaultTo(0))
      .addColumn("duration_min", "double precision")
      .addColumn("duration_max", "double precision")
      .addColumn("duration_sketch", "bytea")
      .addColumn("queue_count", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("queue_sum", "double precision", (c) => c.notNull().defaultTo(0))
      .addColumn("queue_min", "double precision")
      .addColumn("queue_max", "double precision")
      .addColumn("queue_sketch", "bytea");
    if (table === "function_metrics_minute") {
      create = create
        .addColumn("compacted", "boolean", (c) => c.notNull().defaultTo(false))
        .addPrimaryKeyConstraint("function_metrics_minute_pkey", [
          "tenant_id",
          "function_id",
          "minute",
          "version",
          "trigger",
          "writer_id",
        ]);
    } else {
      create = create.addPrimaryKeyConstraint("function_metrics_hour_pkey", [
        "tenant_id",
        "function_id",
        "hour",
        "version",
        "trigger",
      ]);
    }
    await create.execute();
    // The tenant overview reads every function of a tenant over a window.
    await db.schema.createIndex(`${table}_tenant_idx`).on(table).columns(["tenant_id", time]).execute();
    // Retention purges by age across tenants.
    await db.schema.createIndex(`${table}_${time}_idx`).on(table).column(time).execute();
  }
  await db.schema
    .createIndex("function_metrics_minute_pending_idx")
    .on("function_metrics_minute")
    .column("minute")
    .where(sql.ref("compacted"), "=", false)
    .execute();
  await db.schema
    .createTable("function_metrics_watermark")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("at", "timestamptz", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("function_metrics_watermark").ifExists().execute();
  await db.schema.dropTable("function_metrics_hour").ifExists().execute();
  await db.schema.dropTable("function_metrics_minute").ifExists().execute();
}
