import { type Kysely, sql } from "kysely";
import {
  addCounts,
  aggregateOfRow,
  type MetricAggregate,
  mergeAggregate,
  newAggregate,
  PeakInFlight,
  type StoredMetricColumns,
} from "./metric-aggregate.ts";
import { COMPACTED_WATERMARK } from "./metrics-maintenance.ts";
import type { Database } from "./schema.ts";

const HOUR_MS = 3_600_000;

/** Cold-start kinds as the API names them; the record's "cold" depends on the runtime. */
export const COLD_START_KINDS = ["isolate", "newContainer", "stemCell", "paused", "unknown"] as const;
export type ColdStartMetricKind = (typeof COLD_START_KINDS)[number];

export interface MetricsSeriesQuery {
  functionId: string;
  /** Both aligned to stepMs by the caller. */
  from: Date;
  to: Date;
  stepMs: number;
  /** Only these versions (an alias's or one version); all when absent. */
  versions?: readonly number[] | undefined;
  trigger?: string | undefined;
}

export interface MetricsSeries {
  /** One aggregate per step from `from`, cold starts by ColdStartMetricKind. */
  points: MetricAggregate[];
  total: MetricAggregate;
}

export interface FunctionMetricsTotal {
  functionId: string;
  name: string;
  aggregate: MetricAggregate;
}

type Table = "function_metrics_minute" | "function_metrics_hour";
type Range = readonly [Date, Date];

/** A rollup row of either table, its minute or hour as `at`. */
interface RollupRow extends StoredMetricColumns {
  tenant_id: string;
  function_id: string;
  version: number;
  trigger: string;
  at: Date;
}

interface LoadedRow {
  functionId: string;
  at: number;
  aggregate: MetricAggregate;
}

/**
 * A tenant's metrics rollups, merged for reading. Whole hours before the compaction watermark come
 * from the hour rows, everything else from the minute rows, so every invocation is counted once;
 * sketches merge, so percentiles of a bucket are those of all its invocations.
 */
export class MetricsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async series(q: MetricsSeriesQuery): Promise<MetricsSeries> {
    const from = q.from.getTime();
    const to = q.to.getTime();
    const count = Math.max(0, Math.ceil((to - from) / q.stepMs));
    const points = Array.from({ length: count }, newAggregate);
    const total = newAggregate();
    // Hour rows fit a step only when the step is whole hours (buckets are then hour-aligned).
    let minutesFrom = from;
    const rows: LoadedRow[] = [];
    if (q.stepMs % HOUR_MS === 0) {
      const watermark = await this.#watermark();
      const hoursTo = Math.min(to, watermark);
      if (hoursTo > from) {
        rows.push(...(await this.#load("function_metrics_hour", q, [[q.from, new Date(hoursTo)]])));
        minutesFrom = hoursTo;
      }
    }
    if (to > minutesFrom)
      rows.push(...(await this.#load("function_metrics_minute", q, [[new Date(minutesFrom), q.to]])));
    const peaks = new PeakInFlight();
    for (const row of rows) {
      const index = Math.floor((row.at - from) / q.stepMs);
      const point = points[index];
      if (!point) continue;
      mergeAggregate(point, row.aggregate);
      mergeAggregate(total, row.aggregate);
      peaks.add(String(index), row.at, row.aggregate.maxInFlight);
      peaks.add("total", row.at, row.aggregate.maxInFlight);
    }
    points.forEach((point, index) => {
      point.maxInFlight = peaks.peakOf(String(index));
    });
    total.maxInFlight = peaks.peakOf("total");
    return { points, total };
  }

  /**
   * The series of several functions at once (the console's list: the rows in view), read in one
   * query per table rather than one per function; functions without rows are absent.
   */
  async seriesByFunction(
    q: Omit<MetricsSeriesQuery, "functionId" | "versions" | "trigger"> & {
      functionIds: readonly string[];
    },
  ): Promise<Map<string, MetricsSeries>> {
    const result = new Map<string, MetricsSeries>();
    if (q.functionIds.length === 0) return result;
    const from = q.from.getTime();
    const to = q.to.getTime();
    const count = Math.max(0, Math.ceil((to - from) / q.stepMs));
    const filter = { functionIds: q.functionIds };
    let minutesFrom = from;
    const rows: LoadedRow[] = [];
    if (q.stepMs % HOUR_MS === 0) {
      const hoursTo = Math.min(to, await this.#watermark());
      if (hoursTo > from) {
        rows.push(...(await this.#load("function_metrics_hour", filter, [[q.from, new Date(hoursTo)]])));
        minutesFrom = hoursTo;
      }
    }
    if (to > minutesFrom)
      rows.push(...(await this.#load("function_metrics_minute", filter, [[new Date(minutesFrom), q.to]])));
    const peaks = new PeakInFlight();
    for (const row of rows) {
      let series = result.get(row.functionId);
      if (!series) {
        series = { points: Array.from({ length: count }, newAggregate), total: newAggregate() };
        result.set(row.functionId, series);
      }
      const index = Math.floor((row.at - from) / q.stepMs);
      const point = series.points[index];
      if (!point) continue;
      mergeAggregate(point, row.aggregate);
      mergeAggregate(series.total, row.aggregate);
      peaks.add(`${row.functionId}\u0000${index}`, row.at, row.aggregate.maxInFlight);
      peaks.add(row.functionId, row.at, row.aggregate.maxInFlight);
    }
    for (const [functionId, series] of result) {
      series.points.forEach((point, index) => {
        point.maxInFlight = peaks.peakOf(`${functionId}\u0000${index}`);
      });
      series.total.maxInFlight = peaks.peakOf(functionId);
    }
    return result;
  }

  /** Every function of the tenant with invocations in [from, to), with its totals. */
  async overview(window: { from: Date; to: Date }): Promise<FunctionMetricsTotal[]> {
    const from = window.from.getTime();
    const to = window.to.getTime();
    const watermark = await this.#watermark();
    const hoursFrom = Math.ceil(from / HOUR_MS) * HOUR_MS;
    const hoursTo = Math.min(Math.floor(to / HOUR_MS) * HOUR_MS, watermark);
    const rows: LoadedRow[] = [];
    if (hoursTo > hoursFrom) {
      rows.push(
        ...(await this.#load("function_metrics_hour", {}, [[new Date(hoursFrom), new Date(hoursTo)]])),
      );
      const minuteRanges: Range[] = [];
      if (hoursFrom > from) minuteRanges.push([window.from, new Date(hoursFrom)]);
      if (to > hoursTo) minuteRanges.push([new Date(hoursTo), window.to]);
      rows.push(...(await this.#load("function_metrics_minute", {}, minuteRanges)));
    } else {
      rows.push(...(await this.#load("function_metrics_minute", {}, [[window.from, window.to]])));
    }
    const byFunction = new Map<string, MetricAggregate>();
    const peaks = new PeakInFlight();
    for (const row of rows) {
      const into = byFunction.get(row.functionId);
      if (into) mergeAggregate(into, row.aggregate);
      else byFunction.set(row.functionId, row.aggregate);
      peaks.add(row.functionId, row.at, row.aggregate.maxInFlight);
    }
    for (const [functionId, aggregate] of byFunction) aggregate.maxInFlight = peaks.peakOf(functionId);
    if (byFunction.size === 0) return [];
    const names = await this.#db
      .selectFrom("functions")
      .select(["id", "name"])
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "in", [...byFunction.keys()])
      .execute();
    return names.flatMap((f) => {
      const aggregate = byFunction.get(f.id);
      return aggregate ? [{ functionId: f.id, name: f.name, aggregate }] : [];
    });
  }

  async #watermark(): Promise<number> {
    const row = await this.#db
      .selectFrom("function_metrics_watermark")
      .select("at")
      .where("name", "=", COMPACTED_WATERMARK)
      .executeTakeFirst();
    return row ? row.at.getTime() : Number.NEGATIVE_INFINITY;
  }

  /** Rows of one table in the ranges, their cold starts named by kind (which needs the version's runtime). */
  async #load(
    table: Table,
    filter: {
      functionId?: string;
      functionIds?: readonly string[];
      versions?: readonly number[] | undefined;
      trigger?: string | undefined;
    },
    ranges: readonly Range[],
  ): Promise<LoadedRow[]> {
    if (ranges.length === 0) return [];
    if (filter.versions?.length === 0) return [];
    const time = table === "function_metrics_minute" ? "minute" : "hour";
    // Both tables have the same measures; the subquery names their time column `at` (PostgreSQL
    // pushes the conditions below into it).
    const source = sql<RollupRow>`(select *, ${sql.ref(time)} as at from ${sql.table(table)})`.as("m");
    let query = this.#db
      .selectFrom(source)
      .leftJoin("versions as v", (join) =>
        join
          .onRef("v.tenant_id", "=", "m.tenant_id")
          .onRef("v.function_id", "=", "m.function_id")
          .onRef("v.version", "=", "m.version"),
      )
      .selectAll("m")
      .select("v.runtime")
      .where("m.tenant_id", "=", this.#tenantId)
      .where((eb) => eb.or(ranges.map(([a, b]) => eb.and([eb("m.at", ">=", a), eb("m.at", "<", b)]))));
    if (filter.functionId !== undefined) query = query.where("m.function_id", "=", filter.functionId);
    if (filter.functionIds !== undefined) query = query.where("m.function_id", "in", [...filter.functionIds]);
    if (filter.versions !== undefined) query = query.where("m.version", "in", [...filter.versions]);
    if (filter.trigger !== undefined) query = query.where("m.trigger", "=", filter.trigger);
    const rows = await query.execute();
    return rows.map((row) => {
      const aggregate = aggregateOfRow(row);
      aggregate.coldStarts = coldStartKinds(aggregate.coldStarts, row.runtime);
      return { functionId: row.function_id, at: row.at.getTime(), aggregate };
    });
  }
}

/** The record's cold-start values as kinds: "cold" is a new isolate on the edge, a new container elsewhere. */
function coldStartKinds(raw: Record<string, number>, runtime: string | null): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const [value, n] of Object.entries(raw)) {
    const kind: ColdStartMetricKind =
      value === "stem-cell"
        ? "stemCell"
        : value === "unpaused"
          ? "paused"
          : value === "cold"
            ? runtime === null
              ? "unknown"
              : runtime === "edge"
                ? "isolate"
                : "newContainer"
            : "unknown";
    addCounts(kinds, { [kind]: n });
  }
  return kinds;
}
