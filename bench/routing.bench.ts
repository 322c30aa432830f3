/**
 * Routing overhead of a weighted alias (90/10) against a plain function (live, one version), on
 * this machine (loopback only). Two measurements:
 *   1. in process: FunctionResolver.resolve (cached snapshot + pickVersion), 1e6 warm resolutions
 *      each, timed in batches of 1,000; and the RouteTrie match of a tenant route for scale;
 *   2. end to end through a listening gateway (real Postgres, NATS, V8 isolates): sequential
 *      keep-alive requests timed with performance.now() (latency without queueing), in alternating
 *      rounds so drift hits both sides alike, then autocannon (its own worker thread) for throughput,
 *      in A B B A order. The weighted alias keeps two versions (two isolates) warm, which the plain
 *      function does not: that cost is part of what splitting traffic costs, not of routing.
 * Run: node --import tsx bench/routing.bench.ts [--duration 8] [--connections 20] [--serial 4000]
 * Prints the figures and writes bench/results/routing.json.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openDatabase } from "@kumo/db";
import { loadGatewayConfig, start } from "@kumo/gateway";
import autocannon from "autocannon";
import { parseRoutePattern } from "../services/gateway/src/routing/route-pattern.ts";
import { RouteTrie } from "../services/gateway/src/routing/route-trie.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "8" },
    connections: { type: "string", default: "20" },
    serial: { type: "string", default: "4000" },
    resolutions: { type: "string", default: "1000000" },
  },
});
const duration = Number(args.duration);
const connections = Number(args.connections);
const serialCount = Number(args.serial);
const resolutions = Number(args.resolutions);
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** ns/op of `op`, timed in batches; p50 and p99 over batches. */
async function nsPerOp(
  op: () => unknown,
  total: number,
  batch = 1000,
): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let done = 0; done < total; done += batch) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) await op();
    samples.push(Number(process.hrtime.bigint() - t0) / batch);
  }
  return { p50: round(percentile(samples, 50)), p99: round(percentile(samples, 99)) };
}

/** One keep-alive GET, in µs. */
function timedGet(agent: http.Agent, port: number, path: string): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode}`));
        res.resume();
        res.on("end", () => resolve((performance.now() - start) * 1000));
      })
      .on("error", reject);
  });
}

async function load(url: string) {
  const options = { url, connections, duration, workers: 1 };
  const r = await autocannon(options);
  return {
    rps: Math.round(r.requests.average),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

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
  });
  const gateway = await start(config, { database });
  const base = gateway.url;
  const port = Number(new URL(base).port);
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
    const tenantId = created.tenant?.id ?? "";
    await api("POST", "/v1/functions", key, { name: "hello", runtime: "edge" });
    const source = 'export default { fetch() { return new Response("hello") } }';
    for (let i = 0; i < 2; i++) {
      await api("POST", "/v1/functions/hello/deployments", key, {
        files: { "index.ts": `${source}\n// build ${i}` },
      });
    }
    await api("PUT", "/v1/functions/hello/aliases/weighted", key, {
      routing: [
        { version: 1, weight: 90 },
        { version: 2, weight: 10 },
      ],
    });
    await api("PUT", "/v1/functions/hello/aliases/live", key, { routing: [{ version: 1, weight: 100 }] });

    // 1. In process.
    const resolver = gateway.context.resolver;
    await resolver.resolve(tenantId, "bench", "hello");
    await resolver.resolve(tenantId, "bench", "hello@weighted");
    await nsPerOp(() => resolver.resolve(tenantId, "bench", "hello"), resolutions / 10);
    const plainResolve = await nsPerOp(() => resolver.resolve(tenantId, "bench", "hello"), resolutions);
    const weightedResolve = await nsPerOp(
      () => resolver.resolve(tenantId, "bench", "hello@weighted"),
      resolutions,
    );
    const trie = new RouteTrie<string>();
    for (const [m, p] of [
      ["GET", "/users/me"],
      ["GET", "/users/:id"],
      ["ANY", "/users/:id/*"],
      ["POST", "/orders/:id/items/:item"],
      ["GET", "/*"],
    ] as const)
      trie.add(m, parseRoutePattern(p).segments, p);
    const routeMatch = await nsPerOp(() => trie.match("GET", "/users/42/posts/7?x=1"), resolutions);

    // 2. End to end: sequential latency, alternating rounds.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const plainPath = "/fn/bench/hello/";
    const weightedPath = "/fn/bench/hello@weighted/";
    for (let i = 0; i < 500; i++) {
      await timedGet(agent, port, plainPath);
      await timedGet(agent, port, weightedPath);
    }
    const plainUs: number[] = [];
    const weightedUs: number[] = [];
    const round_ = 200;
    for (let done = 0; done < serialCount; done += round_) {
      for (let i = 0; i < round_; i++) plainUs.push(await timedGet(agent, port, plainPath));
      for (let i = 0; i < round_; i++) weightedUs.push(await timedGet(agent, port, weightedPath));
    }
    agent.destroy();
    const serial = {
      plain: { p50Us: round(percentile(plainUs, 50)), p99Us: round(percentile(plainUs, 99)) },
      weighted: { p50Us: round(percentile(weightedUs, 50)), p99Us: round(percentile(weightedUs, 99)) },
      samples: plainUs.length,
    };
    // A B B A, so whatever drifts over the run (table growth, GC, heat) weighs on both alike.
    const runs = {
      plain: [] as Awaited<ReturnType<typeof load>>[],
      weighted: [] as Awaited<ReturnType<typeof load>>[],
    };
    for (const side of ["plain", "weighted", "weighted", "plain"] as const) {
      runs[side].push(await load(`${base}${side === "plain" ? plainPath : weightedPath}`));
    }
    const mean = (xs: Awaited<ReturnType<typeof load>>[]) => ({
      rps: Math.round(xs.reduce((a, x) => a + x.rps, 0) / xs.length),
      p50Ms: Math.max(...xs.map((x) => x.p50Ms)),
      p99Ms: Math.max(...xs.map((x) => x.p99Ms)),
      non2xx: xs.reduce((a, x) => a + x.non2xx, 0),
      errors: xs.reduce((a, x) => a + x.errors, 0),
    });
    const plainLoad = mean(runs.plain);
    const weightedLoad = mean(runs.weighted);

    const p50DiffUs = round(serial.weighted.p50Us - serial.plain.p50Us);
    const result = {
      benchmark: "routing",
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version },
      inProcess: {
        resolutions,
        plainResolveNs: plainResolve,
        weightedResolveNs: weightedResolve,
        weightedOverheadNsP50: round(weightedResolve.p50 - plainResolve.p50),
        routeTrieMatchNs: routeMatch,
      },
      endToEnd: {
        serial,
        load: {
          connections,
          durationS: duration,
          order: "plain weighted weighted plain",
          plain: plainLoad,
          weighted: weightedLoad,
          runs,
        },
        p50DiffUs,
        p50Ratio: round(serial.weighted.p50Us / serial.plain.p50Us, 3),
        rpsRatio: round(weightedLoad.rps / plainLoad.rps, 3),
        targetP50DiffUs: 50,
        withinTarget: p50DiffUs < 50,
      },
    };
    console.log(JSON.stringify(result, null, 2));
    await mkdir(join(here, "results"), { recursive: true });
    await writeFile(join(here, "results", "routing.json"), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await gateway.stop();
    await database.db.schema.dropSchema(schema).ifExists().cascade().execute();
    await database.close();
  }
}

await main();
