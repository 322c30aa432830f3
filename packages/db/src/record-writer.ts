import { type Insertable, type Kysely, sql } from "kysely";
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
    for (const record of invocations) {
      const seen = latest.get(record.id);
      if (!seen || (record.record_seq ?? 0) >= (seen.record_seq ?? 0)) latest.set(record.id, record);
    }
    await db
      .insertInto("invocations")
      .values([...latest.values()])
      .onConflict((oc) =>
        oc
          .column("id")
          .doUpdateSet((eb) => ({
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
            attempts: eb.ref("excluded.attempts"),
            record_seq: eb.ref("excluded.record_seq"),
            result: eb.ref("excluded.result"),
            result_headers: eb.ref("excluded.result_headers"),
            dead_letter_seq: eb.ref("excluded.dead_letter_seq"),
            idempotency_key: sql<
              string | null
            >`coalesce(excluded.idempotency_key, invocations.idempotency_key)`,
            request_bytes: sql<number | null>`coalesce(excluded.request_bytes, invocations.request_bytes)`,
            started_at: sql<Date>`least(excluded.started_at, invocations.started_at)`,
          }))
          // An older write of the same invocation (a late "queued" batch) never undoes a newer one.
          .where(sql<boolean>`excluded.record_seq >= invocations.record_seq`),
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

export const RECORD_PHASES = ["queued", "running", "finished"] as const;
export type RecordPhase = (typeof RECORD_PHASES)[number];

/**
 * The order of one invocation's writes: attempt n is queued, then running, then finished, and
 * everything of attempt n+1 comes after. Sync records use 0 (they are written once).
 */
export function recordSeq(attempt: number, phase: RecordPhase): number {
  return attempt * 4 + RECORD_PHASES.indexOf(phase);
}
