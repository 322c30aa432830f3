import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

const DAY_MS = 86_400_000;

export interface PurgeLogsOptions {
  /** Retention of tenants without their own `log_retention_days`. */
  defaultRetentionMs: number;
  now?: number;
  /** Rows per DELETE statement (at most 5,000). Default 5,000. */
  batchSize?: number;
  /** Statements per call, so one call stays short; the next call goes on. Default 200. */
  maxStatements?: number;
}

export interface PurgeLogsResult {
  deleted: number;
  /** False when the call stopped at maxStatements or found another process purging. */
  complete: boolean;
}

/**
 * Deletes log lines past their tenant's retention, in small batches: each statement deletes at
 * most `batchSize` rows found through `(tenant_id, ts)` and addressed by ctid, in its own short
 * transaction, so no statement holds row locks long or bloats the WAL in one go, and concurrent
 * writers (the recorders) are never blocked. Each batch takes a transaction-scoped advisory lock;
 * a process that finds it held leaves the pass to the one holding it, so when every gateway runs
 * this on a timer one at a time deletes.
 */
export async function purgeLogs(db: Kysely<Database>, options: PurgeLogsOptions): Promise<PurgeLogsResult> {
  const now = options.now ?? Date.now();
  const batchSize = Math.min(options.batchSize ?? 5000, 5000);
  let statements = options.maxStatements ?? 200;
  let deleted = 0;
  const tenants = await db.selectFrom("tenants").select(["id", "log_retention_days"]).orderBy("id").execute();
  for (const tenant of tenants) {
    const retentionMs =
      tenant.log_retention_days === null ? options.defaultRetentionMs : tenant.log_retention_days * DAY_MS;
    const cutoff = new Date(now - retentionMs);
    for (;;) {
      if (statements-- <= 0) return { deleted, complete: false };
      const count = await db.transaction().execute(async (trx) => {
        const lock = await sql<{
          locked: boolean;
        }>`select pg_try_advisory_xact_lock(hashtext(current_schema() || '.kumo.log-retention')) as locked`.execute(
          trx,
        );
        if (!lock.rows[0]?.locked) return null;
        const result = await sql`delete from logs where ctid = any(array(
            select ctid from logs where tenant_id = ${tenant.id} and ts < ${cutoff} limit ${batchSize}
          ))`.execute(trx);
        return Number(result.numAffectedRows ?? 0);
      });
      if (count === null) return { deleted, complete: false };
      deleted += count;
      if (count < batchSize) break;
    }
  }
  return { deleted, complete: true };
}
