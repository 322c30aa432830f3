import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

export interface PurgeAuditOptions {
  /** Entries older than this are deleted. */
  retentionMs: number;
  now?: number;
  /** Rows per DELETE statement (at most 5,000). Default 5,000. */
  batchSize?: number;
  /** Statements per call, so one call stays short; the next call goes on. Default 200. */
  maxStatements?: number;
}

export interface PurgeAuditResult {
  deleted: number;
  /** False when the call stopped at maxStatements or found another process purging. */
  complete: boolean;
}

/**
 * Deletes audit entries past the installation's audit retention, in small batches found through
 * the `at` index, each its own short transaction under an advisory lock (one gateway at a time),
 * as `purgeLogs` does for logs.
 */
export async function purgeAudit(
  db: Kysely<Database>,
  options: PurgeAuditOptions,
): Promise<PurgeAuditResult> {
  const cutoff = new Date((options.now ?? Date.now()) - options.retentionMs);
  const batchSize = Math.min(options.batchSize ?? 5000, 5000);
  let statements = options.maxStatements ?? 200;
  let deleted = 0;
  for (;;) {
    if (statements-- <= 0) return { deleted, complete: false };
    const count = await db.transaction().execute(async (trx) => {
      const lock = await sql<{
        locked: boolean;
      }>`select pg_try_advisory_xact_lock(hashtext(current_schema() || '.kumo.audit-retention')) as locked`.execute(
        trx,
      );
      if (!lock.rows[0]?.locked) return null;
      const result = await sql`delete from audit_events where id = any(array(
          select id from audit_events where at < ${cutoff} limit ${batchSize}
        ))`.execute(trx);
      return Number(result.numAffectedRows ?? 0);
    });
    if (count === null) return { deleted, complete: false };
    deleted += count;
    if (count < batchSize) return { deleted, complete: true };
  }
}
