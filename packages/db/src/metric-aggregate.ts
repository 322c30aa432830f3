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
  /** CPU ms per invocation, where the runtime measured it (since 0016). */
  cpu: DDSketch;
  /** Memory bytes per invocation (isolate heap, container rss), where measured (since 0016). */
  memory: DDSketch;
  /**
   * The most invocations running at once. One writer's minute is exact for that writer; merged
   * aggregates take the largest (PeakInFlight adds the peaks of rows of the same minute first).
   */
  maxInFlight: number;
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
    cpu: newSketch(),
    memory: newSketch(),
    maxInFlight: 0,
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
  into.cpu.merge(from.cpu);
  into.memory.merge(from.memory);
  into.maxInFlight = Math.max(into.maxInFlight, from.maxInFlight);
}

/**
 * Peak concurrency of merged rows. Rows of the same minute come from different writers (or
 * versions) running at the same time, so their peaks add; the peak over several minutes is the
 * largest of those sums. A sum of peaks is an upper bound of the true peak (exact when one writer
 * served the minute, and close when the writers peaked together, as under a round-robin load
 * balancer); an hour row holds the largest minute of its (version, trigger).
 */
export class PeakInFlight {
  readonly #sums = new Map<string, Map<number, number>>();

  /** A row of `group` (a bucket, a function) at `at` (its minute or hour) with its own peak. */
  add(group: string, at: number, peak: number): void {
    if (peak <= 0) return;
    let byTime = this.#sums.get(group);
    if (!byTime) {
      byTime = new Map();
      this.#sums.set(group, byTime);
    }
    byTime.set(at, (byTime.get(at) ?? 0) + peak);
  }

  /** The group's peak: the largest sum of one instant; 0 when it had no rows. */
  peakOf(group: string): number {
    let peak = 0;
    for (const sum of this.#sums.get(group)?.values() ?? []) peak = Math.max(peak, sum);
    return peak;
  }
}

export function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const key in from) into[key] = (into[key] ?? 0) + (from[key] ?? 0);
}

/** An aggregate as the columns of a rollup row. */
export function aggregateColumns(a: MetricAggregate): FunctionMetricsColumns {
  const duration = sketchStats(a.duration);
  const queue = sketchStats(a.queue);
  const cpu = sketchStats(a.cpu);
  const memory = sketchStats(a.memory);
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
    cpu_count: cpu.count,
    cpu_sum: cpu.sum,
    cpu_min: cpu.min,
    cpu_max: cpu.max,
    cpu_sketch: cpu.count > 0 ? encodeSketch(a.cpu) : null,
    memory_count: memory.count,
    memory_sum: memory.sum,
    memory_min: memory.min,
    memory_max: memory.max,
    memory_sketch: memory.count > 0 ? encodeSketch(a.memory) : null,
    max_in_flight: a.maxInFlight,
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
  cpu_count: number;
  cpu_sum: number;
  cpu_min: number | null;
  cpu_max: number | null;
  cpu_sketch: Uint8Array | null;
  memory_count: number;
  memory_sum: number;
  memory_min: number | null;
  memory_max: number | null;
  memory_sketch: Uint8Array | null;
  max_in_flight: number;
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
    cpu: row.cpu_sketch
      ? decodeSketch(row.cpu_sketch, {
          count: row.cpu_count,
          sum: row.cpu_sum,
          min: row.cpu_min,
          max: row.cpu_max,
        })
      : newSketch(),
    memory: row.memory_sketch
      ? decodeSketch(row.memory_sketch, {
          count: row.memory_count,
          sum: row.memory_sum,
          min: row.memory_min,
          max: row.memory_max,
        })
      : newSketch(),
    maxInFlight: row.max_in_flight,
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
  "cpu_count",
  "cpu_sum",
  "cpu_min",
  "cpu_max",
  "cpu_sketch",
  "memory_count",
  "memory_sum",
  "memory_min",
  "memory_max",
  "memory_sketch",
  "max_in_flight",
] as const satisfies readonly (keyof FunctionMetricsColumns)[];

/** An upsert's SET replacing every measure column with the row being inserted (`excluded`). */
export function replacedMetricColumns(): Record<(typeof METRIC_COLUMNS)[number], RawBuilder<never>> {
  return Object.fromEntries(
    METRIC_COLUMNS.map((column) => [column, sql<never>`${sql.ref(`excluded.${column}`)}`]),
  ) as Record<(typeof METRIC_COLUMNS)[number], RawBuilder<never>>;
}
