import type { Kysely } from "kysely";

/**
 * Resources per invocation and peak concurrency (issue 13).
 *
 * - `invocations.cpu_ms` and `invocations.memory_bytes`: what one invocation used, as its runtime
 *   measured it (an isolate's cpuTime delta and heap; a container shim's process.cpuUsage delta and
 *   rss), null when the runtime did not say.
 * - The rollups keep both as DDSketches with count, sum, min and max (as durations), so averages
 *   and percentiles merge across writers and minutes.
 * - `max_in_flight`: the most invocations one writer had running at once in the minute (in an hour
 *   row: the largest minute, writers' peaks of a minute added; see MetricsRepo).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("invocations")
    .addColumn("cpu_ms", "double precision")
    .addColumn("memory_bytes", "double precision")
    .execute();
  for (const table of ["function_metrics_minute", "function_metrics_hour"]) {
    await db.schema
      .alterTable(table)
      .addColumn("cpu_count", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("cpu_sum", "double precision", (c) => c.notNull().defaultTo(0))
      .addColumn("cpu_min", "double precision")
      .addColumn("cpu_max", "double precision")
      .addColumn("cpu_sketch", "bytea")
      .addColumn("memory_count", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("memory_sum", "double precision", (c) => c.notNull().defaultTo(0))
      .addColumn("memory_min", "double precision")
      .addColumn("memory_max", "double precision")
      .addColumn("memory_sketch", "bytea")
      .addColumn("max_in_flight", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["function_metrics_minute", "function_metrics_hour"]) {
    let alter = db.schema.alterTable(table).dropColumn("max_in_flight");
    for (const m of ["cpu", "memory"])
      for (const s of ["count", "sum", "min", "max", "sketch"]) alter = alter.dropColumn(`${m}_${s}`);
    await alter.execute();
  }
  await db.schema.alterTable("invocations").dropColumn("cpu_ms").dropColumn("memory_bytes").execute();
}
