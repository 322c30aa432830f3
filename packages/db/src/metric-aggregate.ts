import type { DDSketch } from "@datadog/sketches-js";
import { type RawBuilder, sql } from "kysely";
import { decodeSketch, encodeSketch, newSketch, sketchStats } from "./metric-sketch.ts";
import type { FunctionMetricsColumns } from "./schema.ts";

/**
 * What finished invocations of one (function, version, trigger kind) add up to over some time:
 * counts, and sketches of durations and async queue ages. Aggregates merge exactly (counts add,
 * sketches merge bin by bin), whatever writer or minute they came from.
 */
export interface MetricAggregate {
  invocations: number;
  /** Failed invocations by error code. */
  errors: Record<string, number>;
  /** Cold starts by the kind the record names ("cold", "stem-cell", "unpaused"); warm ones are not counted. */
  coldStarts: Record<string, number>;
  /** Invocations refused for a rate or concurrency limit (FN_007). */
  throttles: number;
  /** Async attempts that failed and were queued again for a retry. */
  retries: number;
  /** Async invocations that ended in the dead-letter stream. */
  deadLetters: number;
  /** Durations in ms of invocations that ran. */
  duration: DDSketch;
  /** Async invocations: ms from queued to started (the queue's age when it was taken). */
  queue: DDSketch;
}

export function newAggregate(): MetricAggregate {
  return {
    invocations: 0,
    errors: {},
    coldStarts: {},
    throttles: 0,
    retries: 0,
    deadLetters: 0,
    duration: newSketch(),
    queue: newSketch(),
  };
}

/** Adds `from` into `into`. */
export function mergeAggregate(into: MetricAggregate, from: MetricAggregate): void {
  into.invocations += from.invocations;
  addCounts(into.errors, from.errors);
  addCounts(into.coldStarts, from.coldStarts);
  into.throttles += from.throttles;
  into.retries += from.retries;
  into.deadLetters += from.deadLetters;
  into.duration.merge(from.duration);
  into.queue.merge(from.queue);
}

export function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const key in from) into[key] = (into[key] ?? 0) + (from[key] ?? 0);
}

/** An aggregate as the columns of a rollup row. */
export function aggregateColumns(a: MetricAggregate): FunctionMetricsColumns {
  const duration = sketchStats(a.duration);
  const queue = sketchStats(a.queue);
  return {
    invocations: a.invocations,
    errors: JSON.stringify(a.errors),
    cold_starts: JSON.stringify(a.coldStarts),
    throttles: a.throttles,
    retries: a.retries,
    dead_letters: a.deadLetters,
    duration_count: duration.count,
    duration_sum: duration.sum,
    duration_min: duration.min,
    duration_max: duration.max,
    duration_sketch: duration.count > 0 ? encodeSketch(a.duration) : null,
    queue_count: queue.count,
    queue_sum: queue.sum,
    queue_min: queue.min,
    queue_max: queue.max,
    queue_sketch: queue.count > 0 ? encodeSketch(a.queue) : null,
  };
}

/** The stored columns of a rollup row, as read back. */
export interface StoredMetricColumns {
  invocations: number;
  errors: Record<string, number>;
  cold_starts: Record<string, number>;
  throttles: number;
  retries: number;
  dead_letters: number;
  duration_count: number;
  duration_sum: number;
  duration_min: number | null;
  duration_max: number | null;
  duration_sketch: Uint8Array | null;
  queue_count: number;
  queue_sum: number;
  queue_min: number | null;
  queue_max: number | null;
  queue_sketch: Uint8Array | null;
}

/** A rollup row back as an aggregate (its sketches decoded). */
export function aggregateOfRow(row: StoredMetricColumns): MetricAggregate {
  return {
    invocations: row.invocations,
    errors: { ...row.errors },
    coldStarts: { ...row.cold_starts },
    throttles: row.throttles,
    retries: row.retries,
    deadLetters: row.dead_letters,
    duration: row.duration_sketch
      ? decodeSketch(row.duration_sketch, {
          count: row.duration_count,
          sum: row.duration_sum,
          min: row.duration_min,
          max: row.duration_max,
        })
      : newSketch(),
    queue: row.queue_sketch
      ? decodeSketch(row.queue_sketch, {
          count: row.queue_count,
          sum: row.queue_sum,
          min: row.queue_min,
          max: row.queue_max,
        })
      : newSketch(),
  };
}

/** The measure columns of a rollup row (minute and hour tables alike). */
const METRIC_COLUMNS = [
  "invocations",
  "errors",
  "cold_starts",
  "throttles",
  "retries",
  "dead_letters",
  "duration_count",
  "duration_sum",
  "duration_min",
  "duration_max",
  "duration_sketch",
  "queue_count",
  "queue_sum",
  "queue_min",
  "queue_max",
  "queue_sketch",
] as const satisfies readonly (keyof FunctionMetricsColumns)[];

/** An upsert's SET replacing every measure column with the row being inserted (`excluded`). */
export function replacedMetricColumns(): Record<(typeof METRIC_COLUMNS)[number], RawBuilder<never>> {
  return Object.fromEntries(
    METRIC_COLUMNS.map((column) => [column, sql<never>`${sql.ref(`excluded.${column}`)}`]),
  ) as Record<(typeof METRIC_COLUMNS)[number], RawBuilder<never>>;
}
