/**
 * The invocation plane on this machine (loopback, unix sockets and the project's own containers only):
 * - warm invoke through the gateway (HTTP -> NATS -> autoscaler -> unix socket -> shim) vs straight
 *   to the same container's socket, one request at a time: the added latency (target <= 1 ms p50);
 * - warm throughput of a Node hello function through the gateway (target >= 5,000 rps);
 * - scale from zero with stem cells (target <= 50 ms p50 for node) and without, next to a bare
 *   `docker run` of the same image measured in the same run (target <= 1.3x);
 * - async: invocations queued (HTTP 202) and drained to "succeeded" records (target >= 2,000/s);
 * - 1,000 concurrent in-flight requests to one function, 0 errors.
 * The gateway runs in this process, the autoscaler as its own process (as in production), autocannon
 * in a worker thread. Run: node --import tsx bench/invocation.bench.ts [--duration 10]
 * Writes bench/results/invocation.json.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { Agent, request as httpRequest } from "node:http";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { connectBus, jetstreamManager, streams } from "@kumo/bus";
import { type FunctionConfigInput, functionConfigSchema } from "@kumo/core";
import { openDatabase, PlatformStore } from "@kumo/db";
import { bundleEdgeFunction } from "@kumo/edge";
import { loadGatewayConfig, start } from "@kumo/gateway";
import autocannon from "autocannon";
import { ensureRuntimeImages, RuntimeHarness, shimRequest } from "../test/runtimes/runtime-harness.ts";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..");
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "64" },
    samples: { type: "string", default: "15" },
    async: { type: "string", default: "5000" },
  },
});
const duration = Number(args.duration);
const connections = Number(args.connections);
const samples = Number(args.samples);
const asyncCount = Number(args.async);
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

const HELLO = `export default { fetch() { return new Response("hello"); } };\n`;
const SLEEPY = `export default { async fetch() { await new Promise((r) => setTimeout(r, 100)); return new Response("zz"); } };\n`;

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const t0 = performance.now();
  await ensureRuntimeImages(["node"]);
  const ns = `b${randomBytes(4).toString("hex")}`;
  const schema = `bench_${ns}`;
  const dataDir = `/tmp/kumo-bench-${ns}`;
  const masterKey = randomBytes(32).toString("hex");
  const database = await openDatabase({ url: databaseUrl, schema, maxConnections: 10 });
  const nats = await connectBus({ url: natsUrl, name: "kumo-bench" });
  const harness = new RuntimeHarness();
  const children: ChildProcess[] = [];
  const gateway = await start(
    loadGatewayConfig({
      KUMO_ADMIN_KEY: `kumo_bench_admin_${randomBytes(16).toString("hex")}`,
      KUMO_MASTER_KEY: masterKey,
      KUMO_DATA_DIR: dataDir,
      KUMO_LOG_LEVEL: "silent",
      KUMO_PORT: "0",
      KUMO_BUS_NAMESPACE: ns,
    }),
    { database, nats, providers: [], bundleEdge: bundleEdgeFunction },
  );
  const base = gateway.url;
  const platform = new PlatformStore(database.db);
  const tenant = await platform.createTenant(`bench-${ns}`);
  const store = platform.tenant(tenant.id);
  const image = await harness.buildImage({
    Dockerfile:
      "FROM kumo/runtime-node:latest\nCOPY . /var/task/\nENV KUMO_CODE_DIR=/var/task KUMO_HANDLER=index\n",
    "index.mjs": HELLO,
  });
  const sleepyImage = await harness.buildImage({
    Dockerfile:
      "FROM kumo/runtime-node:latest\nCOPY . /var/task/\nENV KUMO_CODE_DIR=/var/task KUMO_HANDLER=index\n",
    "index.mjs": SLEEPY,
  });
  const register = async (name: string, img: string, config: Partial<FunctionConfigInput>) => {
    const parsed = functionConfigSchema.parse({ runtime: "node", ...config });
    const fn =
      (await store.functions.byName(name)) ??
      (await store.functions.create({ name, runtime: "node", config: parsed }));
    const v = await store.versions.create({
      functionId: fn.id,
      runtime: "node",
      sourceDigest: img,
      artifact: img,
      config: parsed,
      deploymentId: null,
      createdBy: null,
    });
    await store.aliases.put(fn.id, "live", [{ version: v.version, weight: 100 }], null);
    gateway.context.changed(tenant.id, fn.id);
    return { fnId: fn.id, versionId: v.id };
  };
  await register("hello", image, {
    scaling: { concurrency: 64, maxInstances: 2, minInstances: 0, idleTtlMs: "10m" },
  });
  const cold = await register("cold", image, { scaling: { idleTtlMs: "1s" } });
  await register("sleepy", sleepyImage, {
    timeoutMs: "30s",
    scaling: { concurrency: 100, maxInstances: 10, idleTtlMs: "10m" },
  });
  const worker = await register("worker", image, {
    scaling: { concurrency: 64, maxInstances: 2, idleTtlMs: "10m" },
  });

  let metricsUrl = "";
  const startAutoscaler = (extra: Record<string, string>) =>
    new Promise<ChildProcess>((ready, fail) => {
      const child = spawn(process.execPath, ["--import", "tsx", "services/autoscaler/src/main.ts"], {
        cwd: repoRoot,
        env: {
          ...process.env,
          KUMO_NODE_ID: `${ns}-a`,
          KUMO_AUTOSCALER_PORT: "0",
          NATS_URL: natsUrl,
          KUMO_BUS_NAMESPACE: ns,
          DATABASE_URL: databaseUrl,
          KUMO_DATABASE_SCHEMA: schema,
          KUMO_MASTER_KEY: masterKey,
          KUMO_DATA_DIR: dataDir,
          KUMO_CONTAINER_LABELS: "dev.kumo.test=1",
          KUMO_PAUSE_AFTER: "10m",
          ...extra,
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(child);
      child.stdout?.on("data", (d: Buffer) => {
        const m = /ready on (\S+)/.exec(d.toString());
        if (m?.[1]) {
          metricsUrl = `${m[1]}/metrics`;
          ready(child);
        }
      });
      child.on("exit", (code) => fail(new Error(`autoscaler exited (${code})`)));
    });
  const stopAutoscaler = async (child: ChildProcess) => {
    child.kill("SIGTERM");
    const exited = await Promise.race([
      new Promise((r) => child.once("exit", () => r(true))),
      sleep(15_000).then(() => false),
    ]);
    if (!exited) {
      console.warn("autoscaler did not stop within 15 s of SIGTERM; killing it");
      child.kill("SIGKILL");
    }
  };
  const gauge = async (name: string, label: string): Promise<number> => {
    const text = await (await fetch(metricsUrl)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(label));
    return line ? Number(line.split(" ").at(-1)) : 0;
  };

  const agent = new Agent({ keepAlive: true, maxSockets: 2000 });
  const get = (url: string) =>
    new Promise<number>((resolvePromise, reject) => {
      const req = httpRequest(url, { agent, method: "GET" }, (res) => {
        res.resume();
        res.on("end", () => resolvePromise(res.statusCode ?? 0));
      });
      req.on("error", reject);
      req.end();
    });
  const fnUrl = (name: string) => `${base}/fn/${tenant.name}/${name}/`;
  const results: Record<string, unknown> = {};
  try {
    let child = await startAutoscaler({ KUMO_STEM_CELLS: "node:2" });

    // 1. Warm latency: gateway vs the container's own socket, sequential.
    for (let i = 0; i < 200; i++) await get(fnUrl("hello"));
    const { stdout } = await run("docker", [
      "ps",
      "--filter",
      `label=dev.kumo.node=${ns}-a`,
      "--format",
      "{{.Names}}\t{{.Labels}}",
    ]);
    const name = stdout
      .split("\n")
      .find((l) => !l.includes("dev.kumo.role=stem-cell") || l.includes("version-id"))
      ?.split("\t")[0];
    // The warm hello instance: a stem cell specialized for it, or a cold-started one (either way, its socket).
    const candidates = stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => l.split("\t")[0] ?? "");
    let socket = "";
    for (const c of [name, ...candidates]) {
      if (!c) continue;
      const path = join(dataDir, "run", c, "rt.sock");
      const res = await shimRequest(path, { path: "/invoke/" }).catch(() => undefined);
      if (res?.status === 200 && res.body.toString() === "hello") {
        socket = path;
        break;
      }
    }
    const direct: number[] = [];
    const through: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 500; i++) {
        const a = performance.now();
        await shimRequest(socket, { path: "/invoke/" });
        direct.push(performance.now() - a);
      }
      for (let i = 0; i < 500; i++) {
        const a = performance.now();
        await get(fnUrl("hello"));
        through.push(performance.now() - a);
      }
    }
    results.warmLatency = {
      directSocketMs: { p50: round(pct(direct, 50), 3), p99: round(pct(direct, 99), 3) },
      throughGatewayMs: { p50: round(pct(through, 50), 3), p99: round(pct(through, 99), 3) },
      addedMs: {
        p50: round(pct(through, 50) - pct(direct, 50), 3),
        p99: round(pct(through, 99) - pct(direct, 99), 3),
      },
      targetAddedP50Ms: 1,
    };
    console.log("warm latency", results.warmLatency);

    // 2. Warm throughput.
    // workers: 1 runs the load generator in its own thread (an option the local typings do not list).
    const throughputOptions = { url: fnUrl("hello"), connections, duration, workers: 1 };
    const tp = await autocannon(throughputOptions);
    results.warmThroughput = {
      rps: round(tp.requests.average, 0),
      p50Ms: tp.latency.p50,
      p99Ms: tp.latency.p99,
      non2xx: tp.non2xx,
      errors: tp.errors + tp.timeouts,
      connections,
      targetRps: 5000,
    };
    console.log("warm throughput", results.warmThroughput);

    // 5. 1,000 concurrent in-flight requests (function sleeps 100 ms; 10 instances x 100).
    await Promise.all(Array.from({ length: 300 }, () => get(fnUrl("sleepy"))));
    const burst = await Promise.all(Array.from({ length: 1000 }, () => get(fnUrl("sleepy")).catch(() => 0)));
    const burstErrors = burst.filter((s) => s !== 200).length;
    results.concurrent1000 = { requests: 1000, errors: burstErrors, target: 0 };
    console.log("1000 concurrent", results.concurrent1000);

    // 3a. Scale from zero with stem cells.
    const coldSample = async (stemCells: boolean): Promise<{ ms: number; kind: string }> => {
      const until = Date.now() + 20_000;
      while ((await gauge("kumo_autoscaler_instances", cold.versionId)) > 0 && Date.now() < until)
        await sleep(100);
      while (stemCells && (await gauge("kumo_autoscaler_stem_cells", '"node"')) < 1 && Date.now() < until)
        await sleep(100);
      await sleep(300);
      const a = performance.now();
      const res = await fetch(fnUrl("cold"));
      await res.arrayBuffer();
      return { ms: performance.now() - a, kind: res.headers.get("kumo-cold-start") ?? "?" };
    };
    await coldSample(true); // first use of the version on this node prepares its code tree
    const stem: { ms: number; kind: string }[] = [];
    for (let i = 0; i < samples; i++) stem.push(await coldSample(true));
    await stopAutoscaler(child);

    // 3b. Without stem cells, and a bare docker run of the same image.
    child = await startAutoscaler({ KUMO_STEM_CELL_MAX: "0" });
    const plain: { ms: number; kind: string }[] = [];
    for (let i = 0; i < samples; i++) plain.push(await coldSample(false));
    const bare: number[] = [];
    for (let i = 0; i < samples; i++) {
      const a = performance.now();
      const fn = await harness.start(image);
      bare.push(performance.now() - a);
      await run("docker", ["rm", "-f", fn.id]);
    }
    const stemMs = stem.filter((s) => s.kind === "stem-cell").map((s) => s.ms);
    const plainMs = plain.map((s) => s.ms);
    results.scaleFromZero = {
      stemCell: {
        p50: round(pct(stemMs, 50)),
        p99: round(pct(stemMs, 99)),
        samples: stemMs.length,
        kinds: stem.map((s) => s.kind),
        targetP50Ms: 50,
      },
      withoutStemCells: {
        p50: round(pct(plainMs, 50)),
        p99: round(pct(plainMs, 99)),
        kinds: plain.map((s) => s.kind),
      },
      bareDockerRun: { p50: round(pct(bare, 50)), p99: round(pct(bare, 99)) },
      ratioToBareDockerRunP50: round(pct(plainMs, 50) / pct(bare, 50)),
      targetRatio: 1.3,
    };
    console.log("scale from zero", results.scaleFromZero);

    // 4. Async: queue N (HTTP 202), then wait for N succeeded records.
    await get(fnUrl("worker"));
    const started = performance.now();
    const asyncOptions = {
      url: `${base}/fn/${tenant.name}/worker/`,
      method: "POST",
      headers: { "kumo-invocation-type": "async", "content-type": "text/plain" },
      body: "x",
      connections: 50,
      amount: asyncCount,
      workers: 1,
    };
    const queued = await autocannon(asyncOptions);
    const queueSeconds = (performance.now() - started) / 1000;
    let done = 0;
    const until = Date.now() + 120_000;
    while (Date.now() < until) {
      const row = await database.db
        .selectFrom("invocations")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .where("function_id", "=", worker.fnId)
        .where("status", "=", "succeeded")
        .where("trigger", "=", "http")
        .executeTakeFirst();
      done = Number(row?.n ?? 0);
      if (done >= asyncCount) break;
      await sleep(50);
    }
    const drainSeconds = (performance.now() - started) / 1000;
    results.async = {
      invocations: asyncCount,
      accepted202: asyncCount - queued.non2xx - queued.errors,
      non2xx: queued.non2xx,
      queuedPerSecond: round(asyncCount / queueSeconds, 0),
      succeeded: done,
      queuedAndDrainedPerSecond: round(done / drainSeconds, 0),
      target: 2000,
    };
    console.log("async", results.async);
    await stopAutoscaler(child);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await gateway.stop();
    const { stdout } = await run("docker", ["ps", "-aq", "--filter", `label=dev.kumo.node=${ns}-a`]).catch(
      () => ({ stdout: "" }),
    );
    const ids = stdout.split("\n").filter((l) => l.trim() !== "");
    if (ids.length > 0) await run("docker", ["rm", "-f", ...ids]).catch(() => {});
    await harness.cleanup();
    const jsm = await jetstreamManager(nats);
    for (const s of [
      streams.invocations(ns),
      streams.deadLetters(ns),
      `KV_${streams.idempotency(ns)}`,
      `OBJ_${streams.payloads(ns)}`,
    ])
      await jsm.streams.delete(s).catch(() => {});
    await nats.close();
    await database.db.schema.dropSchema(schema).ifExists().cascade().execute();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const out = {
    ranAt: new Date().toISOString(),
    seconds: round((performance.now() - t0) / 1000, 1),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version },
    ...results,
  };
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "invocation.json"), `${JSON.stringify(out, null, 2)}\n`);
  console.log(JSON.stringify(out, null, 2));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await main();
