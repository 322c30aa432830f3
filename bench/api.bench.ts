/**
 * Management API throughput and latency on this machine (loopback only), against two baselines
 * measured in the same run: a bare fastify answering a static JSON of the same size (the framework's
 * ceiling) and a bare fastify doing one `select 1` per request (the database round-trip floor).
 * Run: node --import tsx bench/api.bench.ts [--duration 10] [--connections 50] [--functions 200]
 * Prints a table and writes bench/results/api.json. The servers run in this process; autocannon runs
 * its connections in a worker thread (workers: 1) so the load generator does not share the servers'
 * event loop (it still shares the machine's two cores).
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openDatabase } from "@kumo/db";
import { loadGatewayConfig, start } from "@kumo/gateway";
import autocannon from "autocannon";
import Fastify from "fastify";
import pg from "pg";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    functions: { type: "string", default: "200" },
  },
});
const duration = Number(args.duration);
const connections = Number(args.connections);
const functionCount = Number(args.functions);
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

interface Load {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(url: string, headers: Record<string, string>, seconds: number): Promise<Load> {
  // workers: 1 puts the load generator in its own thread, off the servers' event loop.
  const options = { url, headers, connections, duration: seconds, workers: 1 };
  const r = await autocannon(options);
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const schema = `bench_${randomBytes(5).toString("hex")}`;
  const database = await openDatabase({ url: databaseUrl, schema, maxConnections: 10 });
  const config = loadGatewayConfig({
    KUMO_ADMIN_KEY: `kumo_bench_admin_${randomBytes(16).toString("hex")}`,
    KUMO_MASTER_KEY: randomBytes(32).toString("hex"),
    KUMO_DATA_DIR: `/tmp/kumo-bench-${schema}`,
    KUMO_LOG_LEVEL: "silent",
    KUMO_HOST: "127.0.0.1",
    KUMO_PORT: "0",
    NATS_URL: natsUrl,
  });
  // No capacity providers: this measures the management API, not invocations.
  const gateway = await start(config, {
    database,
    providers: [],
    bundleEdge: async () => {
      throw new Error("the API benchmark deploys nothing");
    },
  });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const baseline = Fastify({ logger: false });
  try {
    // Seed: one tenant, N functions.
    const tenant = await gateway.app.inject({
      method: "POST",
      url: "/v1/tenants",
      headers: { authorization: `Bearer ${gateway.adminKey}` },
      payload: { name: "bench" },
    });
    const key: string = tenant.json().apiKey.key;
    const auth = { authorization: `Bearer ${key}` };
    for (let i = 0; i < functionCount; i++) {
      const res = await gateway.app.inject({
        method: "POST",
        url: "/v1/functions",
        headers: auth,
        payload: {
          name: `fn-${String(i).padStart(4, "0")}`,
          runtime: "edge",
          config: { memoryMb: 128, env: { MODE: "bench" } },
        },
      });
      if (res.statusCode !== 201) throw new Error(`seeding failed: ${res.statusCode} ${res.body}`);
    }
    const listBody = (
      await gateway.app.inject({ method: "GET", url: "/v1/functions?limit=50", headers: auth })
    ).json();
    const oneBody = (
      await gateway.app.inject({ method: "GET", url: "/v1/functions/fn-0100", headers: auth })
    ).json();

    baseline.get("/static-list", async () => listBody);
    baseline.get("/static-one", async () => oneBody);
    baseline.get("/select1", async () => {
      const r = await pool.query("select 1 as one");
      return { one: r.rows[0]?.one };
    });
    await baseline.listen({ host: "127.0.0.1", port: 0 });
    const address = baseline.server.address();
    const baseUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

    const runs: {
      route: string;
      url: string;
      headers: Record<string, string>;
      baseline?: string;
      bytes: number;
    }[] = [
      {
        route: "baseline: static JSON (list size)",
        url: `${baseUrl}/static-list`,
        headers: {},
        bytes: JSON.stringify(listBody).length,
      },
      { route: "baseline: select 1", url: `${baseUrl}/select1`, headers: {}, bytes: 9 },
      {
        route: "GET /v1/functions?limit=50",
        url: `${gateway.url}/v1/functions?limit=50`,
        headers: auth,
        baseline: "baseline: static JSON (list size)",
        bytes: JSON.stringify(listBody).length,
      },
      {
        route: "GET /v1/functions/:name",
        url: `${gateway.url}/v1/functions/fn-0100`,
        headers: auth,
        baseline: "baseline: select 1",
        bytes: JSON.stringify(oneBody).length,
      },
      {
        route: "GET /v1/whoami",
        url: `${gateway.url}/v1/whoami`,
        headers: auth,
        baseline: "baseline: static JSON (list size)",
        bytes: 0,
      },
    ];
    const results = new Map<string, Load>();
    for (const run of runs) {
      await load(run.url, run.headers, 1); // warm-up: JIT, pools, key cache
      const r = await load(run.url, run.headers, duration);
      if (r.non2xx > 0 || r.errors > 0)
        throw new Error(`${run.route}: ${r.non2xx} non-2xx responses, ${r.errors} errors`);
      results.set(run.route, r);
      process.stdout.write(`measured ${run.route}\n`);
    }

    const ceiling = results.get("baseline: static JSON (list size)")?.rps ?? 1;
    const rows = runs.map((run) => {
      const r = results.get(run.route) ?? { rps: 0, p50: 0, p99: 0, non2xx: 0, errors: 0 };
      const ref = run.baseline ? results.get(run.baseline) : undefined;
      return {
        route: run.route,
        rps: Math.round(r.rps),
        p50Ms: r.p50,
        p99Ms: r.p99,
        vsCeiling: Number((r.rps / ceiling).toFixed(3)),
        vsBaseline: ref ? Number((r.rps / ref.rps).toFixed(3)) : null,
        baseline: run.baseline ?? null,
        responseBytes: run.bytes || null,
      };
    });
    console.log("");
    console.table(
      rows.map((r) => ({
        route: r.route,
        "req/s": r.rps,
        "p50 ms": r.p50Ms,
        "p99 ms": r.p99Ms,
        "÷ static ceiling": r.vsCeiling,
        "÷ own baseline": r.vsBaseline ?? "",
      })),
    );
    const whoami = rows.find((r) => r.route === "GET /v1/whoami");
    if (whoami) whoami.responseBytes = null;
    const out = {
      benchmark: "api",
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version },
      settings: {
        durationSeconds: duration,
        connections,
        functions: functionCount,
        loadGenerator: "autocannon, workers: 1",
      },
      results: rows,
      totalSeconds: Math.round((performance.now() - started) / 1000),
    };
    await mkdir(join(here, "results"), { recursive: true });
    await writeFile(join(here, "results", "api.json"), `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote bench/results/api.json (${out.totalSeconds} s)`);
  } finally {
    await baseline.close();
    await pool.end();
    await gateway.stop();
    await database.db.schema.dropSchema(schema).ifExists().cascade().execute();
    await database.close();
  }
}

await main();
