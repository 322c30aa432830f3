/**
 * Per-function metrics (issue 13): read cost of the metrics API over generated rollups, and what
 * the rollups cost the record path, on this machine (real PostgreSQL, loopback only).
 *   1. 30 days of 1-minute rollups of one function standing for 10 million invocations (log-normal
 *      durations, some errors and cold starts) are inserted directly in batches, then compacted
 *      into hour rows by the real compaction; GET /v1/functions/:name/metrics is timed for 1 h
 *      (1-minute steps), 24 h (5-minute steps) and 30 d (6-hour steps, from hour rows) through
 *      fastify's inject, side by side with two baselines in the same run: a plain SQL count over
 *      the same rows, and GET /v1/functions/:name.
 *   2. Records per second through the Recorder (real batched upserts) with rollups on and off, in
 *      A B B A order so drift hits both alike; plus the in-memory cost of one observation.
 * Run: node --import tsx bench/metrics.bench.ts [--records 30000] [--invocations 10000000]
 * Prints the figures and writes bench/results/metrics.json.
 */
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DDSketch } from "@datadog/sketches-js";
import { compactMetrics, MetricsRollup, type NewInvocation, Recorder } from "@kumo/db";
import { sql } from "kysely";
import { startApiGateway } from "./support/api-gateway.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    records: { type: "string", default: "30000" },
    invocations: { type: "string", default: "10000000" },
  },
});
const recordCount = Number(args.records);
const totalInvocations = Number(args.invocations);
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const MINUTE_MS = 60_000;
const DAYS = 30;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

/** Log-normal around 40 ms (a typical function), from a seeded generator so runs compare. */
function generator(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return () =>
    Math.exp(Math.log(40) + 0.8 * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

async function timeRequests(
  run: () => Promise<unknown>,
  count: number,
): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(5, count); i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await run();
    samples.push(performance.now() - t0);
  }
  return { p50: round(percentile(samples, 50)), p99: round(percentile(samples, 99)) };
}

async function main(): Promise<void> {
  const api = await startApiGateway(databaseUrl);
  const { database, adminKey, call } = api;
  try {
    const db = database.db;
    const tenant = await call("/v1/tenants", adminKey, "POST", { name: "bench" });
    const key: string = tenant.apiKey.key;
    const fn = await call("/v1/functions", key, "POST", { name: "busy", runtime: "edge" });

    // 1. Thirty days of minute rollups, ending at the current minute.
    const end = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    const minutes = DAYS * 1440;
    const perMinute = totalInvocations / minutes;
    const next = generator(42);
    const t0 = performance.now();
    let generated = 0;
    let rows: Record<string, unknown>[] = [];
    const flushRows = async () => {
      if (rows.length === 0) return;
      await db
        .insertInto("function_metrics_minute")
        .values(rows as never)
        .execute();
      rows = [];
    };
    for (let m = 0; m < minutes; m++) {
      const n = Math.round((m + 1) * perMinute) - Math.round(m * perMinute);
      generated += n;
      const sketch = new DDSketch({ relativeAccuracy: 0.01 });
      for (let i = 0; i < n; i++) sketch.accept(next());
      const errors = Math.floor(n / 100);
      rows.push({
        tenant_id: tenant.tenant.id,
        function_id: fn.id,
        version: 1,
        trigger: "http",
        minute: new Date(end - (minutes - m) * MINUTE_MS),
        writer_id: "bench",
        invocations: n,
        errors: JSON.stringify(errors > 0 ? { FN_004: errors } : {}),
        cold_starts: JSON.stringify({ cold: m % 7 === 0 ? 1 : 0 }),
        throttles: 0,
        retries: 0,
        dead_letters: 0,
        duration_count: sketch.count,
        duration_sum: sketch.sum,
        duration_min: sketch.min,
        duration_max: sketch.max,
        duration_sketch: sketch.toProto(),
        queue_count: 0,
        queue_sum: 0,
        queue_min: null,
        queue_max: null,
        queue_sketch: null,
      });
      if (rows.length >= 1000) await flushRows();
    }
    await flushRows();
    const generateMs = performance.now() - t0;
    const t1 = performance.now();
    let compactedHours = 0;
    for (;;) {
      const step = await compactMetrics(db, { now: end, maxBatches: 50 });
      compactedHours += step.hours;
      if (step.complete) break;
    }
    const compactMs = performance.now() - t1;
    const sketchBytes = await sql<{
      avg: number;
    }>`select avg(octet_length(duration_sketch))::float8 as avg from function_metrics_minute`.execute(db);
    console.log(
      `generated ${minutes} minute rows (${generated} invocations) in ${round(generateMs / 1000)} s; compacted into ${compactedHours} hour rows in ${round(compactMs / 1000)} s`,
    );

    const ranges = [
      { name: "1h", from: "1h", count: 200, ms: 3_600_000 },
      { name: "24h", from: "24h", count: 40, ms: 86_400_000 },
      { name: "30d", from: "30d", count: 60, ms: DAYS * 86_400_000 },
    ];
    const api: Record<string, unknown> = {};
    const functionGet = await timeRequests(() => call("/v1/functions/busy", key), 200);
    for (const r of ranges) {
      let points = 0;
      let invocations = 0;
      let p99 = 0;
      const metrics = await timeRequests(async () => {
        const body = await call(`/v1/functions/busy/metrics?from=${r.from}`, key);
        points = body.series.length;
        invocations = body.summary.invocations;
        p99 = body.summary.durationMs.p99;
      }, r.count);
      const from = new Date(Date.now() - r.ms);
      const countSql = await timeRequests(
        () =>
          sql`select count(*), sum(invocations) from function_metrics_minute where tenant_id = ${tenant.tenant.id} and function_id = ${fn.id} and minute >= ${from}`.execute(
            db,
          ),
        r.count,
      );
      api[r.name] = {
        points,
        invocations,
        durationP99Ms: p99,
        metricsApiMs: metrics,
        baselineSqlCountMs: countSql,
        baselineFunctionGetMs: functionGet,
        ratioP50VsSqlCount: round(metrics.p50 / countSql.p50),
        ratioP50VsFunctionGet: round(metrics.p50 / functionGet.p50),
      };
      console.log(
        `metrics API ${r.name}: p50 ${metrics.p50} ms, p99 ${metrics.p99} ms (${points} points, ${invocations} invocations) | select count(*) p50 ${countSql.p50} ms p99 ${countSql.p99} ms | GET function p50 ${functionGet.p50} ms | ratio p50 vs count ${round(metrics.p50 / countSql.p50)}x`,
      );
    }

    // 2. The record path with rollups on and off.
    const fnIds = Array.from({ length: 10 }, () => randomUUID());
    const records = (n: number): NewInvocation[] => {
      const at = Date.now();
      return Array.from({ length: n }, (_, i) => ({
        id: randomUUID(),
        tenant_id: tenant.tenant.id,
        function_id: fnIds[i % fnIds.length] as string,
        version_id: null,
        version: 1,
        trigger: "http",
        status: i % 50 === 0 ? ("failed" as const) : ("succeeded" as const),
        error_code: i % 50 === 0 ? "FN_004" : null,
        status_code: i % 50 === 0 ? 500 : 200,
        duration_ms: next(),
        cold_start: i % 100 === 0 ? "cold" : "warm",
        queue_ms: 0,
        request_bytes: 0,
        response_bytes: 12,
        started_at: new Date(at),
        finished_at: new Date(at + 40),
      }));
    };
    const throughput = async (rollups: boolean): Promise<number> => {
      const recorder = new Recorder({
        db,
        flushMs: 250,
        rollups,
        onError: (e) => {
          throw e;
        },
      });
      const batch = records(recordCount);
      const started = performance.now();
      for (let i = 0; i < batch.length; i++) {
        recorder.record(batch[i] as NewInvocation);
        if (i % 1000 === 999) await recorder.flush();
      }
      await recorder.drain();
      return recordCount / ((performance.now() - started) / 1000);
    };
    const on: number[] = [];
    const off: number[] = [];
    for (const mode of [true, false, false, true]) (mode ? on : off).push(await throughput(mode));
    const onRate = ((on[0] as number) + (on[1] as number)) / 2;
    const offRate = ((off[0] as number) + (off[1] as number)) / 2;
    const rollup = new MetricsRollup();
    const sample = records(200_000);
    const t2 = process.hrtime.bigint();
    for (const r of sample) rollup.observe(r);
    const observeNs = Number(process.hrtime.bigint() - t2) / sample.length;
    console.log(
      `record path: rollups on ${Math.round(onRate)} records/s, off ${Math.round(offRate)} records/s (${round((1 - onRate / offRate) * 100)} % slower); one observation ${round(observeNs, 0)} ns`,
    );

    const result = {
      benchmark: "metrics",
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "", node: process.version },
      rollups: {
        days: DAYS,
        minuteRows: minutes,
        invocations: generated,
        avgSketchBytes: round(sketchBytes.rows[0]?.avg ?? 0, 0),
        generateSeconds: round(generateMs / 1000),
        hourRows: compactedHours,
        compactSeconds: round(compactMs / 1000),
      },
      api,
      recordPath: {
        records: recordCount,
        rollupsOnPerSecond: on.map((v) => Math.round(v)),
        rollupsOffPerSecond: off.map((v) => Math.round(v)),
        lossPercent: round((1 - onRate / offRate) * 100),
        observeNsPerRecord: round(observeNs, 0),
      },
    };
    console.log(JSON.stringify(result, null, 2));
    await mkdir(join(here, "results"), { recursive: true });
    await writeFile(join(here, "results", "metrics.json"), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await api.close();
  }
}

await main();
