import { type ExpressionBuilder, type Kysely, sql } from "kysely";
import {
  aggregateColumns,
  aggregateOfRow,
  type MetricAggregate,
  mergeAggregate,
  PeakInFlight,
  replacedMetricColumns,
} from "./metric-aggregate.ts";
import type { Database } from "./schema.ts";

const HOUR_MS = 3_600_000;
/** The watermark row: hours before it are complete in function_metrics_hour. */
export const COMPACTED_WATERMARK = "compacted_before";

export interface CompactMetricsOptions {
  now?: number;
  /** Minutes of an hour may still be written this long after it ends (late records). Default 5 min. */
  graceMs?: number;
  /** (tenant, function, hour) groups merged per transaction. Default 50. */
  groupsPerBatch?: number;
  /** Transactions per call at most; the rest waits for the next call. Default 20. */
  maxBatches?: number;
}

export interface CompactMetricsResult {
  /** Hour rows written. */
  hours: number;
  /** False when another process held the compaction lock: nothing was done. */
  ran: boolean;
  /** True when every ended hour is compacted (the watermark moved to the cutoff). */
  complete: boolean;
}

/**
 * Merges the minute rows of ended hours (all writers) into hour rows. Each batch runs in one
 * transaction under a transaction-scoped advisory lock, so when several gateways call this only
 * one works at a time; the minute rows it reads are locked until it has marked them compacted,
 * so a late write of one of them waits and then marks it pending again (compacted again on the
 * next call). Idempotent: an hour is always recomputed from all of its minute rows.
 */
export async function compactMetrics(
  db: Kysely<Database>,
  options: CompactMetricsOptions = {},
): Promise<CompactMetricsResult> {
  const now = options.now ?? Date.now();
  const graceMs = options.graceMs ?? 300_000;
  const cutoffMs = Math.floor((now - graceMs) / HOUR_MS) * HOUR_MS;
  const cutoff = new Date(cutoffMs);
  const groupsPerBatch = options.groupsPerBatch ?? 50;
  let hours = 0;
  for (let batch = 0; batch < (options.maxBatches ?? 20); batch++) {
    const step = await db.transaction().execute(async (trx) => {
      const lock = await sql<{
        locked: boolean;
      }>`select pg_try_advisory_xact_lock(hashtext(current_schema() || '.kumo.metrics-compaction')) as locked`.execute(
        trx,
      );
      if (!lock.rows[0]?.locked) return "locked" as const;
      const groups = await trx
        .selectFrom("function_metrics_minute")
        .select([
          "tenant_id",
          "function_id",
          sql<Date>`date_bin('1 hour', minute, timestamptz 'epoch')`.as("hour"),
        ])
        .where("compacted", "=", false)
        .where("minute", "<", cutoff)
        .groupBy(["tenant_id", "function_id", sql`3`])
        .orderBy(sql`3`)
        .limit(groupsPerBatch)
        .execute();
      if (groups.length === 0) {
        await trx
          .insertInto("function_metrics_watermark")
          .values({ name: COMPACTED_WATERMARK, at: cutoff })
          .onConflict((oc) =>
            oc.column("name").doUpdateSet({ at: sql`greatest(function_metrics_watermark.at, excluded.at)` }),
          )
          .execute();
        return "done" as const;
      }
      const inGroups = (eb: ExpressionBuilder<Database, "function_metrics_minute">) =>
        eb.or(
          groups.map((g) =>
            eb.and([
              eb("tenant_id", "=", g.tenant_id),
              eb("function_id", "=", g.function_id),
              eb("minute", ">=", g.hour),
              eb("minute", "<", new Date(g.hour.getTime() + HOUR_MS)),
            ]),
          ),
        );
      const rows = await trx
        .selectFrom("function_metrics_minute")
        .selectAll()
        .where(inGroups)
        .forUpdate()
        .execute();
      const merged = new Map<
        string,
        {
          tenant_id: string;
          function_id: string;
          version: number;
          trigger: string;
          hour: Date;
          aggregate: MetricAggregate;
        }
      >();
      // Writers' peaks of one minute add; the hour keeps its largest minute.
      const peaks = new PeakInFlight();
      for (const row of rows) {
        const hour = Math.floor(row.minute.getTime() / HOUR_MS) * HOUR_MS;
        const key = `${row.tenant_id}\u0000${row.function_id}\u0000${hour}\u0000${row.version}\u0000${row.trigger}`;
        peaks.add(key, row.minute.getTime(), row.max_in_flight);
        const into = merged.get(key);
        if (into) mergeAggregate(into.aggregate, aggregateOfRow(row));
        else
          merged.set(key, {
            tenant_id: row.tenant_id,
            function_id: row.function_id,
            version: row.version,
            trigger: row.trigger,
            hour: new Date(hour),
            aggregate: aggregateOfRow(row),
          });
      }
      for (const [key, m] of merged) m.aggregate.maxInFlight = peaks.peakOf(key);
      const hourRows = [...merged.values()].map((m) =>
        Object.assign(
          {
            tenant_id: m.tenant_id,
            function_id: m.function_id,
            version: m.version,
            trigger: m.trigger,
            hour: m.hour,
          },
          aggregateColumns(m.aggregate),
        ),
      );
      for (let at = 0; at < hourRows.length; at += 500) {
        await trx
          .insertInto("function_metrics_hour")
          .values(hourRows.slice(at, at + 500))
          .onConflict((oc) =>
            oc
              .columns(["tenant_id", "function_id", "hour", "version", "trigger"])
              .doUpdateSet(replacedMetricColumns()),
          )
          .execute();
      }
      await trx.updateTable("function_metrics_minute").set({ compacted: true }).where(inGroups).execute();
      hours += hourRows.length;
      return "more" as const;
    });
    if (step === "locked") return { hours, ran: false, complete: false };
    if (step === "done") return { hours, ran: true, complete: true };
  }
  return { hours, ran: true, complete: false };
}

export interface PurgeMetricsOptions {
  now?: number;
  minuteRetentionMs: number;
  hourRetentionMs: number;
  /** Rows deleted per statement (short statements, short locks). Default 5,000. */
  batchSize?: number;
  /** Statements per table per call at most. Default 20. */
  maxBatches?: number;
}

/** Deletes rollup rows past their retention, in small batches; returns the rows deleted per table. */
export async function purgeMetrics(
  db: Kysely<Database>,
  options: PurgeMetricsOptions,
): Promise<{ minutes: number; hours: number }> {
  const now = options.now ?? Date.now();
  const batchSize = options.batchSize ?? 5000;
  const maxBatches = options.maxBatches ?? 20;
  const purge = async (
    table: "function_metrics_minute" | "function_metrics_hour",
    column: string,
    before: Date,
  ) => {
    let deleted = 0;
    for (let i = 0; i < maxBatches; i++) {
      const result = await sql`delete from ${sql.table(table)} where ctid in (
        select ctid from ${sql.table(table)} where ${sql.ref(column)} < ${before} limit ${batchSize})`.execute(
        db,
      );
      const n = Number(result.numAffectedRows ?? 0);
      deleted += n;
      if (n < batchSize) break;
    }
    return deleted;
  };
  return {
    minutes: await purge("function_metrics_minute", "minute", new Date(now - options.minuteRetentionMs)),
    hours: await purge("function_metrics_hour", "hour", new Date(now - options.hourRetentionMs)),
  };
}
