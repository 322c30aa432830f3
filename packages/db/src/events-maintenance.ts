import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

export interface PurgeEventsOptions {
  now?: number;
  /** Events published longer ago than this are deleted, with their deliveries. */
  retentionMs: number;
  /**
   * Events deleted per statement. Their deliveries go with them by cascade, so a statement touches
   * this many events plus one row per subscriber each: kept well under 5,000 rows by default.
   */
  batchSize?: number;
  /** Statements per call at most (over all tenants); the rest waits for the next call. Default 50. */
  maxStatements?: number;
}

export interface PurgeEventsResult {
  /** Events deleted (their deliveries are not counted). */
  events: number;
  /** True when no tenant has events past the retention left. */
  complete: boolean;
}

/** Default events per delete: with ten subscribers each, 5,000 rows including the deliveries. */
export const EVENTS_PURGE_BATCH = 500;

/**
 * Deletes events past their retention, and by cascade their deliveries (`GET /v1/events` shows
 * neither afterwards; the invocation records stay, under their own retention). Tenant by tenant,
 * so every statement is a range of the `(tenant_id, published_at)` index rather than a scan of the
 * whole table, and in small statements, so the publish path never waits long on the locks.
 * Idempotent and safe to run from several processes (two deleting the same rows just delete
 * fewer each); the scheduler's leader runs it.
 */
export async function purgeEvents(
  db: Kysely<Database>,
  options: PurgeEventsOptions,
): Promise<PurgeEventsResult> {
  const before = new Date((options.now ?? Date.now()) - options.retentionMs);
  const batchSize = options.batchSize ?? EVENTS_PURGE_BATCH;
  let statements = options.maxStatements ?? 50;
  // Only tenants that have such events: one index probe per tenant.
  const tenants = await sql<{ tenant_id: string }>`select t.id as tenant_id from tenants t
    where exists (select 1 from events e where e.tenant_id = t.id and e.published_at < ${before})
    order by t.id`.execute(db);
  let events = 0;
  for (const { tenant_id } of tenants.rows) {
    for (;;) {
      if (statements-- <= 0) return { events, complete: false };
      const result = await sql`delete from events where tenant_id = ${tenant_id} and id in (
        select id from events where tenant_id = ${tenant_id} and published_at < ${before}
        order by published_at limit ${batchSize})`.execute(db);
      const n = Number(result.numAffectedRows ?? 0);
      events += n;
      if (n < batchSize) break;
    }
  }
  return { events, complete: true };
}
