/**
 * Workflow steps and draft runs through a listening gateway (real PostgreSQL, NATS, V8 isolates),
 * loopback only, each figure next to its baseline measured in the same run:
 *   1. step invoke overhead: `POST /v1/functions/calc/run {input}` against `POST /v1/functions/calc/invoke`
 *      of the same edge function (its fetch handler does the step's work), serial keep-alive requests
 *      in alternating rounds; target p50 difference ≤ 0.1 ms;
 *   2. draft runs: `POST /v1/run` of a small step (bundle, fresh isolate, run, dispose, audit row)
 *      with new code each time, and with the same code and a new input (the bundle cache's case),
 *      against a step run of the same code deployed (warm isolate) and esbuild's bundling alone;
 *      target p50 ≤ 10 ms.
 * Run: node --import tsx bench/steps.bench.ts [--serial 2000] [--drafts 300]
 * Prints the figures and writes bench/results/steps.json.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openDatabase } from "@kumo/db";
import { bundleEdgeFunction } from "@kumo/edge";
import { loadGatewayConfig, start } from "@kumo/gateway";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    serial: { type: "string", default: "2000" },
    drafts: { type: "string", default: "300" },
  },
});
const serialCount = Number(args.serial);
const draftCount = Number(args.drafts);
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

const CODE = `export default {
  async fetch(request) {
    const { n } = await request.json();
    return Response.json({ n: n + 1 });
  },
};
export function step(input) {
  return { output: { n: input.n + 1 }, nextPath: "next" };
}`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const summary = (ms: number[]) => ({
  p50Ms: round(percentile(ms, 50)),
  p99Ms: round(percentile(ms, 99)),
  n: ms.length,
});

/** One keep-alive POST, in ms; fails on anything but 200. */
function timedPost(
  agent: http.Agent,
  port: number,
  path: string,
  key: string,
  body: string,
): Promise<number> {
  const startAt = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode !== 200)
            reject(new Error(`${path}: ${res.statusCode} ${Buffer.concat(chunks)}`));
          else resolve(performance.now() - startAt);
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const schema = `bench_${randomBytes(5).toString("hex")}`;
  const database = await openDatabase({ url: databaseUrl, schema, maxConnections: 10 });
  const adminKey = `kumo_bench_admin_${randomBytes(16).toString("hex")}`;
  const config = loadGatewayConfig({
    KUMO_ADMIN_KEY: adminKey,
    KUMO_MASTER_KEY: randomBytes(32).toString("hex"),
    KUMO_DATA_DIR: `/tmp/kumo-bench-${schema}`,
    KUMO_LOG_LEVEL: "silent",
    KUMO_HOST: "127.0.0.1",
    KUMO_PORT: "0",
    NATS_URL: natsUrl,
    KUMO_EDGE_HOSTS: "1",
    KUMO_DRAFT_RATE: "1000000",
    KUMO_DRAFT_BURST: "1000000",
  });
  const gateway = await start(config, { database });
  const base = gateway.url;
  const port = Number(new URL(base).port);
  const load = { start: loadavg()[0] ?? 0, end: 0 };
  try {
    const api = async (method: string, path: string, key: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json = (await res.json()) as Record<string, never>;
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json as Record<string, Record<string, string>>;
    };
    const created = await api("POST", "/v1/tenants", adminKey, { name: "bench" });
    const key = created.apiKey?.key ?? "";
    await api("POST", "/v1/functions", key, { name: "calc", runtime: "edge" });
    await api("POST", "/v1/functions/calc/deployments", key, { files: { "index.js": CODE } });

    // 1. Step invoke overhead against a plain invoke of the same function, alternating rounds.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const invokeBody = JSON.stringify({ n: 1 });
    const runBody = JSON.stringify({ input: { n: 1 }, context: { workflowId: "wf", stepId: "calc" } });
    const invoke = () => timedPost(agent, port, "/v1/functions/calc/invoke", key, invokeBody);
    const run = () => timedPost(agent, port, "/v1/functions/calc/run", key, runBody);
    for (let i = 0; i < 300; i++) {
      await invoke();
      await run();
    }
    const invokeMs: number[] = [];
    const runMs: number[] = [];
    for (let done = 0; done < serialCount; done += 100) {
      for (let i = 0; i < 100; i++) invokeMs.push(await invoke());
      for (let i = 0; i < 100; i++) runMs.push(await run());
    }

    // 2. Draft runs against a warm step run of the same code and against bundling alone.
    const draftBody = (i: number) =>
      JSON.stringify({ runtime: "edge", code: `${CODE}\n// draft ${i}`, input: { n: i } });
    for (let i = 0; i < 20; i++) await timedPost(agent, port, "/v1/run", key, draftBody(i));
    const draftMs: number[] = [];
    const sameCodeMs: number[] = [];
    const sameCode = (i: number) => JSON.stringify({ runtime: "edge", code: CODE, input: { n: i } });
    const warmMs: number[] = [];
    const bundleMs: number[] = [];
    for (let i = 0; i < draftCount; i++) {
      draftMs.push(await timedPost(agent, port, "/v1/run", key, draftBody(i)));
      sameCodeMs.push(await timedPost(agent, port, "/v1/run", key, sameCode(i)));
      warmMs.push(await run());
      const t0 = performance.now();
      await bundleEdgeFunction({ "index.ts": `${CODE}\n// bundle ${i}` });
      bundleMs.push(performance.now() - t0);
    }
    agent.destroy();
    load.end = loadavg()[0] ?? 0;

    const invokeS = summary(invokeMs);
    const runS = summary(runMs);
    const draftS = summary(draftMs);
    const stepOverheadP50Ms = round(runS.p50Ms - invokeS.p50Ms);
    const result = {
      benchmark: "steps",
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version, load },
      stepOverhead: {
        baselinePlainInvoke: invokeS,
        stepRun: runS,
        p50DiffMs: stepOverheadP50Ms,
        targetP50DiffMs: 0.1,
        met: stepOverheadP50Ms <= 0.1,
      },
      draftRuns: {
        draftRun: draftS,
        draftRunSameCodeNewInput: summary(sameCodeMs),
        baselineWarmStepRun: summary(warmMs),
        baselineBundleOnly: summary(bundleMs),
        targetP50Ms: 10,
        met: draftS.p50Ms <= 10,
      },
    };
    console.log(JSON.stringify(result, null, 2));
    await mkdir(join(here, "results"), { recursive: true });
    await writeFile(join(here, "results", "steps.json"), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await gateway.stop();
    await database.db.schema.dropSchema(schema).ifExists().cascade().execute();
    await database.close();
  }
}

await main();
