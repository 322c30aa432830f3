import { COLD_START_KINDS, type MetricAggregate, type SketchSummary, sketchSummary } from "@kumo/db";

/** Durations or queue ages of a bucket: exact average and max, percentiles from the merged sketch. */
export interface PresentedDistribution {
  count: number;
  avg: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface PresentedMetrics {
  invocations: number;
  errors: Record<string, number>;
  /** Failed invocations / invocations (0 when there were none). */
  errorRate: number;
  durationMs: PresentedDistribution;
  coldStarts: Record<(typeof COLD_START_KINDS)[number] | "total", number>;
  coldStartRate: number;
  throttles: number;
  retries: number;
  deadLetters: number;
  /**
   * Invocations running at once. `avg`: their summed run time over the bucket's length (Little's
   * law). `max`: the peak in flight, in any minute of the bucket, of the processes that recorded
   * them (gateways for sync calls, autoscaler nodes for async ones), their peaks of one minute
   * added: exact with one such process, an upper bound of the true peak with several.
   */
  concurrency: { avg: number; max: number };
  /** Async invocations: how long they waited in the queue before a node took them. */
  queueMs: PresentedDistribution;
  /** CPU time per invocation (isolate cpuTime; container process CPU), of those whose runtime measured it. */
  cpuMs: PresentedDistribution;
  /** Memory per invocation at its end (isolate heap; container rss), of those whose runtime measured it. */
  memoryBytes: PresentedDistribution;
}

/** One time bucket (or a whole range) of a function's metrics, as the API returns it. */
export function presentMetrics(a: MetricAggregate, spanMs: number): PresentedMetrics {
  const errors = Object.fromEntries(Object.entries(a.errors).sort(([x], [y]) => x.localeCompare(y)));
  const duration = sketchSummary(a.duration);
  const failed = Object.values(errors).reduce((n, v) => n + v, 0);
  const coldStarts = {
    isolate: 0,
    newContainer: 0,
    stemCell: 0,
    paused: 0,
    unknown: 0,
    total: 0,
  };
  for (const kind of COLD_START_KINDS) {
    const n = a.coldStarts[kind] ?? 0;
    coldStarts[kind] = n;
    coldStarts.total += n;
  }
  return {
    invocations: a.invocations,
    errors,
    errorRate: ratio(failed, a.invocations),
    durationMs: distribution(duration),
    coldStarts,
    coldStartRate: ratio(coldStarts.total, a.invocations),
    throttles: a.throttles,
    retries: a.retries,
    deadLetters: a.deadLetters,
    concurrency: { avg: round(spanMs > 0 ? duration.sum / spanMs : 0, 4), max: a.maxInFlight },
    queueMs: distribution(sketchSummary(a.queue)),
    cpuMs: distribution(sketchSummary(a.cpu)),
    memoryBytes: distribution(sketchSummary(a.memory), 0),
  };
}

function distribution(s: SketchSummary, digits = 3): PresentedDistribution {
  const r = (v: number | null) => (v === null ? null : round(v, digits));
  return { count: s.count, avg: r(s.avg), p50: r(s.p50), p95: r(s.p95), p99: r(s.p99), max: r(s.max) };
}

function ratio(part: number, whole: number): number {
  return whole > 0 ? round(part / whole, 6) : 0;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
