import { randomBytes, randomUUID } from "node:crypto";
import type { CapacityProvider } from "@kumo/core";
import { compactMetrics, type NewInvocation, purgeMetrics, Recorder } from "@kumo/db";
import { bundleEdgeFunction, createEdgeProvider } from "@kumo/edge";
import { type Gateway, loadGatewayConfig, start } from "@kumo/gateway";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError } from "../api/api-helpers.ts";
import { type CallResult, startTestGateway, type TestGateway } from "../support/test-gateway.ts";

/** Waits `?ms=` milliseconds, throws when `?fail=1`: durations and errors the test knows. */
const TIMED = `export default { async fetch(request) {
  const url = new URL(request.url);
  const ms = Number(url.searchParams.get("ms") ?? "0");
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  if (url.searchParams.get("fail") === "1") throw new Error("asked to fail");
  return new Response("waited " + ms);
} };`;

const DAY_MS = 86_400_000;

let t: TestGateway;
let second: Gateway;
let secondProvider: CapacityProvider;
let tenant: { name: string; id: string; key: string };
let functionId: string;

async function inject(gateway: Gateway, url: string): Promise<number> {
  const res = await gateway.app.inject({ method: "GET", url });
  return res.statusCode;
}

async function metrics(url: string, key = tenant.key): Promise<CallResult> {
  return t.call("GET", url, { key });
}

/** The value at rank floor(q·(n−1)) of the sorted values: the rank DDSketch reads. */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

/** A finished record as the platform writes it, for rollups the edge cannot produce (async, throttles). */
function record(over: Partial<NewInvocation> & { finished_at: Date }): NewInvocation {
  return {
    id: randomUUID(),
    tenant_id: tenant.id,
    function_id: functionId,
    version_id: null,
    version: 1,
    trigger: "http",
    status: "succeeded",
    started_at: new Date(over.finished_at.getTime() - 10),
    duration_ms: 10,
    cold_start: "warm",
    queue_ms: 0,
    ...over,
  };
}

beforeAll(async () => {
  t = await startTestGateway({ edge: true });
  tenant = await t.tenant();
  const created = await t.call("POST", "/v1/functions", {
    key: tenant.key,
    body: { name: "timed", runtime: "edge" },
  });
  expect(created.status, created.body).toBe(201);
  functionId = created.json.id;
  const dep = await t.call("POST", "/v1/functions/timed/deployments", {
    key: tenant.key,
    body: { files: { "index.ts": TIMED } },
  });
  expect(dep.status, dep.body).toBe(202);
  // A second gateway on the same database schema: its own isolate host and its own recorder.
  secondProvider = await createEdgeProvider({ hosts: 1, fetch: { allowPrivateAddresses: false } });
  second = await start(
    loadGatewayConfig({
      KUMO_ADMIN_KEY: t.adminKey,
      KUMO_MASTER_KEY: randomBytes(32).toString("hex"),
      KUMO_DATA_DIR: `/tmp/kumo-test-${t.schema}-b`,
      KUMO_LOG_LEVEL: "silent",
      KUMO_PORT: "0",
      KUMO_RECORD_FLUSH: "20ms",
    }),
    {
      database: t.gateway.database,
      nats: null,
      providers: [secondProvider],
      bundleEdge: bundleEdgeFunction,
      builder: null,
      listen: false,
    },
  );
}, 120_000);

afterAll(async () => {
  await second?.stop();
  await secondProvider?.stop();
  await t?.close();
}, 60_000);

describe("observability - per-function metrics", () => {
  it("metrics - percentiles of two gateways merge to the exact percentiles of the raw records", async () => {
    const began = Date.now();
    const base = `/fn/${tenant.name}/timed/x`;
    // Distinct delays per gateway: 2..80 ms on the first, 90..246 ms on the second.
    const first = Array.from({ length: 40 }, (_, i) => 2 + 2 * i);
    const other = Array.from({ length: 40 }, (_, i) => 90 + 4 * i);
    for (let i = 0; i < first.length; i += 8) {
      const statuses = await Promise.all([
        ...first.slice(i, i + 8).map((ms) => inject(t.gateway, `${base}?ms=${ms}`)),
        ...other.slice(i, i + 8).map((ms) => inject(second, `${base}?ms=${ms}`)),
      ]);
      expect(statuses.every((s) => s === 200)).toBe(true);
    }
    // Errors by code: two handler errors on each gateway.
    for (const gw of [t.gateway, second, t.gateway, second])
      expect(await inject(gw, `${base}?fail=1`)).toBe(500);
    await t.gateway.flushRecords();
    await second.flushRecords();

    const db = t.gateway.database.db;
    const raw = await db
      .selectFrom("invocations")
      .select(["duration_ms", "cold_start", "status", "error_code", "cpu_ms", "memory_bytes"])
      .where("function_id", "=", functionId)
      .execute();
    expect(raw.length).toBe(84);
    const writers = await db
      .selectFrom("function_metrics_minute")
      .select("writer_id")
      .distinct()
      .where("function_id", "=", functionId)
      .execute();
    expect(writers.length).toBe(2);

    const from = new Date(began - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const res = await metrics(`/v1/functions/timed/metrics?from=${from}&to=${to}&step=1m`);
    expect(res.status, res.body).toBe(200);
    const summary = res.json.summary;
    expect(summary.invocations).toBe(84);
    expect(res.json.series.reduce((n: number, p: { invocations: number }) => n + p.invocations, 0)).toBe(84);
    expect(summary.errors).toEqual({ FN_004: 4 });
    expect(summary.errorRate).toBeCloseTo(4 / 84, 5);

    const durations = raw.map((r) => r.duration_ms as number).sort((a, b) => a - b);
    for (const [q, field] of [
      [0.5, "p50"],
      [0.95, "p95"],
      [0.99, "p99"],
    ] as const) {
      const exact = exactQuantile(durations, q);
      const got = summary.durationMs[field] as number;
      // DDSketch's guarantee (1 % relative) plus the response's rounding to 1 µs.
      expect(Math.abs(got - exact), `${field}: sketch ${got}, exact ${exact}`).toBeLessThanOrEqual(
        exact * 0.01 + 0.001,
      );
    }
    const mean = durations.reduce((n, d) => n + d, 0) / durations.length;
    expect(summary.durationMs.avg).toBeCloseTo(mean, 2);
    expect(summary.durationMs.max).toBeCloseTo(durations.at(-1) as number, 2);
    // The merged p50 sits between the gateways' own medians: averaging per-gateway percentiles would not give it.
    expect(summary.durationMs.p50).toBeGreaterThan(60);

    // The isolate measured every invocation: CPU time (a handler that mostly waits uses little) and heap.
    const cpu = raw.map((r) => r.cpu_ms as number).sort((x, y) => x - y);
    expect(cpu.every((ms) => ms >= 0 && ms < 1000)).toBe(true);
    expect(raw.every((r) => (r.memory_bytes ?? 0) > 100_000)).toBe(true);
    expect(summary.cpuMs.count).toBe(84);
    expect(summary.cpuMs.max).toBeCloseTo(cpu.at(-1) as number, 2);
    expect(summary.memoryBytes.count).toBe(84);
    // With 16 requests at a time split over two gateways, each ran up to 8 at once.
    expect(summary.concurrency.max).toBeGreaterThanOrEqual(2);
    expect(summary.concurrency.max).toBeLessThanOrEqual(16);

    // Each gateway's isolate host started the function's isolate once: cold starts of kind "isolate".
    const cold = raw.filter((r) => r.cold_start === "cold").length;
    expect(cold).toBeGreaterThanOrEqual(2);
    expect(summary.coldStarts.isolate).toBe(cold);
    expect(summary.coldStarts.total).toBe(cold);

    // The same answer filtered by version and by the live alias; another trigger kind has none.
    const byVersion = await metrics(`/v1/functions/timed/metrics?from=${from}&to=${to}&version=1`);
    expect(byVersion.json.summary.invocations).toBe(84);
    const byAlias = await metrics(`/v1/functions/timed/metrics?from=${from}&to=${to}&alias=live`);
    expect(byAlias.json.summary.invocations).toBe(84);
    const byTrigger = await metrics(`/v1/functions/timed/metrics?from=${from}&to=${to}&trigger=cron`);
    expect(byTrigger.json.summary.invocations).toBe(0);

    // The tenant overview lists it first, for a viewer too.
    const viewer = await t.key(tenant.name, tenant.key, "viewer");
    const overview = await metrics(`/v1/metrics?from=${from}&to=${to}`, viewer.key);
    expect(overview.status, overview.body).toBe(200);
    expect(overview.json.topByInvocations[0]).toMatchObject({ name: "timed", invocations: 84 });
    expect(overview.json.topByErrors[0]).toMatchObject({ name: "timed", errors: { FN_004: 4 } });
    expect(overview.json.topByP95[0].durationMs.p95).toBe(summary.durationMs.p95);
  });

  it("metrics - throttles, retries, dead letters and async queue age come from the records; late records merge", async () => {
    const recorder = new Recorder({
      db: t.gateway.database.db,
      flushMs: 10,
      onError: (e) => {
        throw e;
      },
    });
    const at = new Date(Date.UTC(2030, 0, 1, 12, 30, 15));
    const async = { trigger: "async", record_seq: 6, attempts: 1 } as const;
    const records = [
      record({ finished_at: at, status: "failed", error_code: "FN_007", duration_ms: 1 }),
      record({ finished_at: at, status: "failed", error_code: "FN_007", duration_ms: 1 }),
      record({ finished_at: at, ...async, queue_ms: 100 }),
      record({ finished_at: at, ...async, queue_ms: 300 }),
      record({ finished_at: at, ...async, status: "queued", error_code: "FN_004", record_seq: 8 }),
      record({
        finished_at: at,
        ...async,
        status: "failed",
        error_code: "FN_002",
        dead_letter_seq: 7,
        queue_ms: 500,
        cold_start: "stem-cell",
      }),
    ];
    for (const r of records.slice(0, 3)) recorder.record(r);
    await recorder.drain();
    // Minutes later this writer has let the minute go: the rest is merged with its stored row.
    const late = new Recorder({
      db: t.gateway.database.db,
      flushMs: 10,
      onError: (e) => {
        throw e;
      },
    });
    for (const r of records.slice(3)) late.record(r);
    await late.drain();
    for (const r of records.slice(0, 1)) recorder.record({ ...r, id: randomUUID() });
    await recorder.drain();

    const res = await metrics(
      "/v1/functions/timed/metrics?from=2030-01-01T12:00:00Z&to=2030-01-01T13:00:00Z&step=1h",
    );
    expect(res.status, res.body).toBe(200);
    const s = res.json.summary;
    expect(s.invocations).toBe(6);
    expect(s.throttles).toBe(3);
    expect(s.errors).toEqual({ FN_002: 1, FN_007: 3 });
    expect(s.retries).toBe(1);
    expect(s.deadLetters).toBe(1);
    expect(s.coldStarts).toMatchObject({ stemCell: 1, total: 1 });
    expect(s.queueMs.count).toBe(3);
    expect(s.queueMs.avg).toBe(300);
    expect(s.queueMs.max).toBe(500);
    expect(Math.abs(s.queueMs.p50 - 300)).toBeLessThanOrEqual(3);
  });

  it("metrics - compaction merges ended hours into hour rows that read the same; retention purges old rows", async () => {
    const db = t.gateway.database.db;
    const recorders = [0, 1].map(
      () =>
        new Recorder({
          db,
          flushMs: 10,
          onError: (e) => {
            throw e;
          },
        }),
    );
    const hour = Date.UTC(2031, 5, 1, 8);
    const durations: number[] = [];
    for (let i = 0; i < 200; i++) {
      const d = 1 + ((i * 37) % 400) * 1.5;
      durations.push(d);
      recorders[i % 2]?.record(
        record({ finished_at: new Date(hour + (i % 60) * 60_000 + 1000), duration_ms: d }),
      );
    }
    for (const r of recorders) await r.drain();
    const url = "/v1/functions/timed/metrics?from=2031-06-01T08:00:00Z&to=2031-06-01T09:00:00Z";
    const fromMinutes = await metrics(`${url}&step=1h`);
    expect(fromMinutes.json.summary.invocations).toBe(200);

    const now = hour + 3 * 3_600_000;
    const compacted = await compactMetrics(db, { now });
    expect(compacted.ran).toBe(true);
    expect(compacted.complete).toBe(true);
    const hourRows = await db
      .selectFrom("function_metrics_hour")
      .selectAll()
      .where("function_id", "=", functionId)
      .execute();
    expect(hourRows.filter((r) => r.hour.getTime() === hour).map((r) => r.invocations)).toEqual([200]);
    // Minute rows no longer count once the hour is complete: remove them and the hour still reads the same.
    await db
      .deleteFrom("function_metrics_minute")
      .where("minute", ">=", new Date(hour))
      .where("minute", "<", new Date(hour + 3_600_000))
      .execute();
    const fromHours = await metrics(`${url}&step=1h`);
    expect(fromHours.json.summary).toEqual(fromMinutes.json.summary);
    const sorted = [...durations].sort((a, b) => a - b);
    const p95 = exactQuantile(sorted, 0.95);
    expect(Math.abs(fromHours.json.summary.durationMs.p95 - p95)).toBeLessThanOrEqual(p95 * 0.01 + 0.001);

    // Retention: minute rows older than 14 days and hour rows older than 400 days go.
    const old = new Recorder({
      db,
      flushMs: 10,
      onError: (e) => {
        throw e;
      },
    });
    const realNow = Date.now();
    old.record(record({ finished_at: new Date(realNow - 20 * DAY_MS) }));
    old.record(record({ finished_at: new Date(realNow - 401 * DAY_MS) }));
    await old.drain();
    await compactMetrics(db, { now: realNow });
    const count = async (table: "function_metrics_minute" | "function_metrics_hour", before: number) => {
      const time = table === "function_metrics_minute" ? "minute" : "hour";
      const result = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}
        where function_id = ${functionId} and ${sql.ref(time)} < ${new Date(before)}`.execute(db);
      return result.rows[0]?.n;
    };
    expect(await count("function_metrics_minute", realNow - 14 * DAY_MS)).toBe(2);
    expect(await count("function_metrics_hour", realNow - 400 * DAY_MS)).toBe(1);
    const purged = await purgeMetrics(db, {
      now: realNow,
      minuteRetentionMs: 14 * DAY_MS,
      hourRetentionMs: 400 * DAY_MS,
      batchSize: 1,
    });
    expect(purged.minutes).toBeGreaterThanOrEqual(2);
    expect(await count("function_metrics_minute", realNow - 14 * DAY_MS)).toBe(0);
    expect(await count("function_metrics_hour", realNow - 400 * DAY_MS)).toBe(0);
    // The 20-day-old hour stays.
    expect(await count("function_metrics_hour", realNow - 14 * DAY_MS)).toBeGreaterThanOrEqual(1);
  });

  it("metrics - peak in flight per minute: exact for one writer, writers' peaks of a minute add, kept by compaction; CPU and memory per invocation", async () => {
    const db = t.gateway.database.db;
    const recorder = () =>
      new Recorder({
        db,
        flushMs: 10,
        onError: (e) => {
          throw e;
        },
      });
    const [a, b] = [recorder(), recorder()];
    const hour = Date.UTC(2032, 2, 1, 10);
    const m = hour + 5 * 60_000;
    /** A run [start, end) in ms after minute m. */
    const run = (start: number, end: number, over: Partial<NewInvocation> = {}) =>
      record({
        ...over,
        started_at: new Date(m + start),
        finished_at: new Date(m + end),
        duration_ms: end - start,
      });
    // Writer a: at 2500..2550 four runs overlap, one of them begun in the minute before; the runs
    // at 5000 follow each other (no overlap at the tie); one more in the next minute.
    for (const r of [
      run(1000, 5000, { cpu_ms: 2, memory_bytes: 1_000_000 }),
      run(2000, 3000, { cpu_ms: 4, memory_bytes: 3_000_000 }),
      run(2500, 2600, { cpu_ms: 6, memory_bytes: 2_000_000 }),
      run(-30_000, 2550),
      run(5000, 6000),
      run(60_000 + 10, 60_000 + 20),
    ])
      a.record(r);
    // Writer b: two overlapping runs in the same minute.
    for (const r of [run(100, 900), run(200, 300)]) b.record(r);
    await a.drain();
    await b.drain();

    const url = `/v1/functions/timed/metrics?from=${new Date(hour).toISOString()}&to=${new Date(hour + 3_600_000).toISOString()}`;
    const minutes = await metrics(`${url}&step=1m`);
    expect(minutes.status, minutes.body).toBe(200);
    const peakAt = (minute: number) =>
      minutes.json.series.find((p: { at: string }) => p.at === new Date(minute).toISOString())?.concurrency
        .max;
    expect(peakAt(m - 60_000)).toBe(1);
    expect(peakAt(m)).toBe(4 + 2);
    expect(peakAt(m + 60_000)).toBe(1);
    expect(peakAt(m + 120_000)).toBe(0);
    const summary = minutes.json.summary;
    expect(summary.concurrency.max).toBe(6);
    expect(summary.cpuMs).toMatchObject({ count: 3, avg: 4, max: 6 });
    expect(Math.abs(summary.cpuMs.p50 - 4)).toBeLessThanOrEqual(0.04);
    expect(summary.memoryBytes).toMatchObject({ count: 3, avg: 2_000_000, max: 3_000_000 });
    expect(Math.abs(summary.memoryBytes.p50 - 2_000_000)).toBeLessThanOrEqual(20_000);

    // The hour row keeps the largest minute's sum; read from it alone, the answer is the same.
    await compactMetrics(db, { now: hour + 3 * 3_600_000 });
    const row = await db
      .selectFrom("function_metrics_hour")
      .select(["max_in_flight", "cpu_count"])
      .where("function_id", "=", functionId)
      .where("hour", "=", new Date(hour))
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ max_in_flight: 6, cpu_count: 3 });
    const hours = await metrics(`${url}&step=1h`);
    expect(hours.json.summary.concurrency.max).toBe(6);
    expect(hours.json.summary.cpuMs).toEqual(summary.cpuMs);
  });

  it("metrics api - bad ranges and steps are 400 FN_006 naming the field; unknown names are 404", async () => {
    const field = (res: CallResult) =>
      (res.json.error.details.problems as { field: string }[]).map((p) => p.field);
    const cases: [string, string][] = [
      ["?step=90s", "querystring.step"],
      ["?step=0", "querystring.step"],
      ["?from=30d&step=1m", "querystring.step"],
      ["?from=yesterday", "querystring.from"],
      ["?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", "querystring.from"],
      ["?from=500d", "querystring.from"],
      ["?trigger=bogus", "querystring.trigger"],
      ["?version=0", "querystring.version"],
      ["?alias=live&version=1", "querystring.alias"],
    ];
    for (const [query, name] of cases) {
      const res = await metrics(`/v1/functions/timed/metrics${query}`);
      expectError(res, 400, "FN_006");
      expect(field(res), query).toContain(name);
    }
    expectError(
      await metrics("/v1/metrics?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z"),
      400,
      "FN_006",
    );
    expectError(await metrics("/v1/metrics?limit=1000"), 400, "FN_006");
    expectError(await metrics("/v1/functions/nope/metrics"), 404, "FN_001");
    expectError(await metrics("/v1/functions/timed/metrics?alias=nope"), 404, "FN_001");

    // Defaults: the last hour in 1-minute steps, 60 or 61 points.
    const res = await metrics("/v1/functions/timed/metrics");
    expect(res.status, res.body).toBe(200);
    expect(res.json.step).toBe(60);
    expect(res.json.series.length).toBeGreaterThanOrEqual(60);
    expect(res.json.series.length).toBeLessThanOrEqual(61);
    const day = await metrics("/v1/functions/timed/metrics?from=24h");
    expect(day.json.step).toBe(300);
    const month = await metrics("/v1/functions/timed/metrics?from=30d");
    expect(month.json.step).toBe(21_600);
  });
});
