import type { Insertable, Kysely } from "kysely";
import type { Database, LogsTable, NewInvocation } from "./schema.ts";

/**
 * Writes invocation records and log lines in batches. Records arrive from the platform's own
 * components (gateway, autoscaler) already tagged with their tenant; the last write of an
 * invocation id wins, so queued -> running -> succeeded updates land in any batch order.
 */
export async function writeRecords(
  db: Kysely<Database>,
  invocations: readonly NewInvocation[],
  logs: readonly Insertable<LogsTable>[],
): Promise<void> {
  if (invocations.length > 0) {
    // One row per id per statement: Postgres refuses to update the same row twice in one upsert.
    const latest = new Map<string, NewInvocation>();
    for (const record of invocations) latest.set(record.id, record);
    await db
      .insertInto("invocations")
      .values([...latest.values()])
      .onConflict((oc) =>
        oc.column("id").doUpdateSet((eb) => ({
          status: eb.ref("excluded.status"),
          error_code: eb.ref("excluded.error_code"),
          error_message: eb.ref("excluded.error_message"),
          status_code: eb.ref("excluded.status_code"),
          duration_ms: eb.ref("excluded.duration_ms"),
          cold_start: eb.ref("excluded.cold_start"),
          queue_ms: eb.ref("excluded.queue_ms"),
          response_bytes: eb.ref("excluded.response_bytes"),
          version_id: eb.ref("excluded.version_id"),
          version: eb.ref("excluded.version"),
          finished_at: eb.ref("excluded.finished_at"),
        })),
      )
      .execute();
  }
  if (logs.length > 0) {
    await db
      .insertInto("logs")
      .values([...logs])
      .execute();
  }
}
