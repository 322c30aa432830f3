/**
 * Edge fast path vs workerd vs raw Node, side by side on this machine (loopback only).
 * Run: node --import tsx bench/edge.bench.ts [--duration 10] [--rounds 3] [--connections 50] [--hosts 1]
 *      [--profile-dir DIR]
 * Prints a table and writes bench/results/edge.json. With --profile-dir, the Kumo contenders (the
 * isolate path's front, the full gateway, `npm start`'s launcher) write V8 CPU profiles there
 * (read them with bench/support/profile-tree.ts); the profiler's own cost is in their figures then,
 * so such a run writes bench/results/edge-profiled.json instead.
 *
 * The three servers run side by side and are loaded in alternating rounds (order reversed every
 * round); the figures are per-server medians, so load from other work on a shared machine hits all
 * contenders alike. Besides req/s, each round records the servers' CPU µs per request (from /proc,
 * Kumo's isolate host included), which stays comparable when req/s is noisy.
 *
 * The load generator (autocannon) runs in this process, which serves nothing: every server gets the
 * same client in its own process, as an external `autocannon` CLI would be (measured: same figures
 * within noise, see runtimes/edge/README.md). On a 2-core machine client and server share the cores:
 * absolute figures are lower than on a dedicated client/server pair, but all contenders pay the same tax.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { edgeTarget, invokeEdge } from "../runtimes/edge/src/edge-test-kit.ts";
import { createEdgeProvider } from "../runtimes/edge/src/index.ts";
import { HELLO_WORKER } from "./support/edge-hello.ts";
import { cpuPerRequest, processTreeCpu } from "./support/edge-process-cpu.ts";
import { startWorkerd } from "./support/workerd.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    hosts: { type: "string", default: "1" },
    versions: { type: "string", default: "200" },
    "profile-dir": { type: "string" },
  },
});
const duration = Number(args.duration);
const rounds = Math.max(1, Number(args.rounds));
const connections = Number(args.connections);

interface Started {
  name: string;
  port: number;
  child: ChildProcess;
  /** Request path; "/" unless the server serves the function under a prefix (the gateway). */
  path?: string;
}

function startServer(
  name: string,
  command: string,
  argv: string[],
  portPattern: RegExp,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = portPattern.exec(out);
      if (match?.[1]) resolve({ name, port: Number(match[1]), child });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${name} exited (${code}): ${out}`)));
    setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 120_000).unref();
  });
}

interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(port: number, seconds: number, path = "/"): Promise<LoadFigures> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    connections,
    duration: seconds,
    pipelining: 1,
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Sequential keep-alive requests timed with performance.now(): latency without queueing. */
async function serialLatency(port: number, count: number, path = "/"): Promise<{ p50: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path, agent }, (res) => {
          res.resume();
          res.on("end", () => resolve());
        })
        .on("error", reject);
    });
    if (i >= count / 10) samples.push(performance.now() - start);
  }
  agent.destroy();
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Number((sorted[index] ?? 0).toFixed(3));
}

/** One loaded round against a server, with the CPU its process tree used per request. */
async function loadRound(server: Started) {
  const pid = server.child.pid ?? 0;
  const before = processTreeCpu(pid);
  const figures = await load(server.port, duration, server.path);
  return { ...figures, cpuUsPerRequest: cpuPerRequest(before, processTreeCpu(pid), figures.rps * duration) };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
};

/** The round with the median req/s stands for the server; every round is kept in the JSON. */
function summarize(samples: Awaited<ReturnType<typeof loadRound>>[]) {
  const mid = median(samples.map((s) => s.rps));
  const chosen = samples.find((s) => s.rps === mid) ?? samples[0];
  if (!chosen) throw new Error("no rounds");
  return {
    ...chosen,
    rounds: samples.map((s) => ({ rps: s.rps, p50: s.p50, p99: s.p99, cpu: s.cpuUsPerRequest })),
  };
}

async function stopServer(server: Started): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.kill("SIGTERM");
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

async function coldStarts(count: number, spareIsolates: number) {
  const provider = await createEdgeProvider({ hosts: 1, spareIsolates });
  const samples: number[] = [];
  try {
    const targets = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        edgeTarget(`${HELLO_WORKER}\n// version ${i}`, { versionId: `ver_cold_${spareIsolates}_${i}` }),
      ),
    );
    for (const target of targets) {
      await new Promise((r) => setTimeout(r, 25)); // arrivals spaced like deploys, not a burst: spares refill meanwhile
      const start = performance.now();
      const res = await invokeEdge(provider, target);
      const ms = performance.now() - start;
      if (res.status !== 200 || res.result.coldStart !== "cold")
        throw new Error(`cold start failed: ${res.text}`);
      samples.push(ms);
    }
  } finally {
    await provider.stop();
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), samples: samples.length };
}

async function warmIsolateMemory(count: number) {
  const provider = await createEdgeProvider({ hosts: 1, spareIsolates: 0 });
  try {
    const [before] = await provider.probeMemory();
    const targets = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        edgeTarget(`${HELLO_WORKER}\n// mem ${i}`, { versionId: `ver_mem_${i}` }),
      ),
    );
    for (const target of targets) await invokeEdge(provider, target);
    const [after] = await provider.probeMemory();
    const heaps = after?.heapBytes ?? [];
    const mean = heaps.reduce((a, b) => a + b, 0) / Math.max(1, heaps.length);
    return {
      isolates: heaps.length,
      heapBytesMean: Math.round(mean),
      rssBytesPerIsolate: Math.round(((after?.rss ?? 0) - (before?.rss ?? 0)) / count),
    };
  } finally {
    await provider.stop();
  }
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);

async function main() {
  console.log(
    `edge bench: ${cpus().length} cores, ${duration}s x ${connections} connections, kumo hosts=${args.hosts}`,
  );
  const raw = await startServer(
    "node",
    process.execPath,
    [join(here, "support/raw-node-server.mjs")],
    /PORT (\d+)/,
  );
  const workerd = await startWorkerd({ source: HELLO_WORKER });
  // The isolate hosts are not profiled: V8's profiler does not see into isolated-vm's isolates.
  const profileDir = args["profile-dir"];
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const profileFlags = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const kumo = await startServer(
    "kumo",
    process.execPath,
    [...profileFlags, "--import", "tsx", join(here, "support/edge-kumo-server.ts"), args.hosts ?? "1"],
    /PORT (\d+)/,
  );
  // The same isolate path behind the real gateway: routing, version resolution, invocation records
  // (written to PostgreSQL, whose CPU is not in the gateway's process tree) and metrics.
  const gateway = {
    ...(await startServer(
      "gateway",
      process.execPath,
      [...profileFlags, "--import", "tsx", join(here, "support/edge-gateway-server.ts"), args.hosts ?? "1"],
      /PORT (\d+)/,
    )),
    path: "/fn/bench/hello/",
  };
  // What users run first: `npm start` (every service under one command, embedded PGlite), measured
  // as started by a user, with its own launcher and isolate host in the process tree.
  const allInOne = {
    ...(await startServer(
      "npm-start",
      process.execPath,
      ["--import", "tsx", join(here, "support/all-in-one-server.ts"), "edge"],
      /PORT (\d+)/,
      profileDir ? { ...process.env, KUMO_BENCH_NODE_FLAGS: profileFlags.join(" ") } : process.env,
    )),
    path: "/fn/dev/hello/",
  };
  const servers: Started[] = [raw, workerd, kumo, gateway, allInOne];
  const latency: Record<string, { p50: number; p99: number }> = {};
  const samples: Record<string, Awaited<ReturnType<typeof loadRound>>[]> = {};
  for (const server of servers) {
    await load(server.port, 2, server.path); // warm-up
    latency[server.name] = await serialLatency(server.port, 3000, server.path);
  }
  for (let round = 0; round < rounds; round++) {
    for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
      const sample = await loadRound(server);
      const list = samples[server.name] ?? [];
      list.push(sample);
      samples[server.name] = list;
      console.log(
        `round ${round + 1} ${server.name.padEnd(9)} ${sample.rps} req/s, CPU µs/req ${JSON.stringify(sample.cpuUsPerRequest)}`,
      );
    }
  }
  await Promise.all(servers.map(stopServer));
  await workerd.stop();
  const results: Record<
    string,
    { throughput: ReturnType<typeof summarize>; latency: { p50: number; p99: number } }
  > = {};
  for (const server of servers) {
    const latencyOf = latency[server.name];
    const list = samples[server.name];
    if (latencyOf && list) results[server.name] = { throughput: summarize(list), latency: latencyOf };
  }

  const cold = await coldStarts(Number(args.versions), 2);
  const coldNoSpare = await coldStarts(Math.min(100, Number(args.versions)), 0);
  const memory = await warmIsolateMemory(100);

  const kumoR = results.kumo;
  const workerdR = results.workerd;
  const nodeR = results.node;
  if (!kumoR || !workerdR || !nodeR) throw new Error("missing results");
  const summary = {
    machine: { cores: cpus().length, model: cpus()[0]?.model, node: process.version },
    settings: {
      duration,
      rounds,
      connections,
      kumoHosts: Number(args.hosts),
      loadGenerator: "autocannon, in the bench process",
    },
    results,
    ratioKumoToWorkerd: Number((kumoR.throughput.rps / workerdR.throughput.rps).toFixed(3)),
    ratioGatewayToWorkerd: results.gateway
      ? Number((results.gateway.throughput.rps / workerdR.throughput.rps).toFixed(3))
      : null,
    ratioNpmStartToWorkerd: results["npm-start"]
      ? Number((results["npm-start"].throughput.rps / workerdR.throughput.rps).toFixed(3))
      : null,
    ratioKumoToWorkerdPerRound: kumoR.throughput.rounds.map((k, i) =>
      Number((k.rps / (workerdR.throughput.rounds[i]?.rps ?? 1)).toFixed(3)),
    ),
    addedLatencyOverNodeP50Ms: Number((kumoR.latency.p50 - nodeR.latency.p50).toFixed(3)),
    gatewayAddedLatencyOverNodeP50Ms: results.gateway
      ? Number((results.gateway.latency.p50 - nodeR.latency.p50).toFixed(3))
      : null,
    npmStartAddedLatencyOverNodeP50Ms: results["npm-start"]
      ? Number((results["npm-start"].latency.p50 - nodeR.latency.p50).toFixed(3))
      : null,
    coldStartMs: cold,
    coldStartWithoutSparesMs: coldNoSpare,
    warmIsolateMemory: memory,
  };
  console.log(
    `\n| server  | req/s (${connections} conns, median of ${rounds}) | p50 ms | p99 ms | serial p50 ms | serial p99 ms | CPU µs/req | errors |`,
  );
  console.log(
    "|---------|------------------|--------|--------|---------------|---------------|------------|--------|",
  );
  for (const [name, r] of Object.entries(results)) {
    const cpu = Object.entries(r.throughput.cpuUsPerRequest)
      .map(([kind, us]) => `${kind} ${us}`)
      .join(" + ");
    console.log(
      `| ${name.padEnd(9)} | ${String(r.throughput.rps).padStart(16)} | ${fmt(r.throughput.p50).padStart(6)} | ${fmt(r.throughput.p99).padStart(6)} | ${fmt(r.latency.p50, 3).padStart(13)} | ${fmt(r.latency.p99, 3).padStart(13)} | ${cpu} | ${String(r.throughput.errors + r.throughput.non2xx).padStart(6)} |`,
    );
  }
  console.log(
    `\nKumo/workerd throughput ratio: ${summary.ratioKumoToWorkerd} (per round: ${summary.ratioKumoToWorkerdPerRound.join(", ")})`,
  );
  console.log(
    `Full gateway/workerd throughput ratio: ${summary.ratioGatewayToWorkerd} (the gateway also records every invocation)`,
  );
  console.log(
    `npm start (one command, embedded PGlite)/workerd throughput ratio: ${summary.ratioNpmStartToWorkerd}`,
  );
  console.log(
    `Added latency over raw Node (serial p50): isolate path ${summary.addedLatencyOverNodeP50Ms} ms, full gateway ${summary.gatewayAddedLatencyOverNodeP50Ms} ms, npm start ${summary.npmStartAddedLatencyOverNodeP50Ms} ms`,
  );
  console.log(
    `Cold start (new version, spare isolates ready): p50 ${cold.p50} ms, p99 ${cold.p99} ms over ${cold.samples}`,
  );
  console.log(
    `Cold start (no spare isolates): p50 ${coldNoSpare.p50} ms, p99 ${coldNoSpare.p99} ms over ${coldNoSpare.samples}`,
  );
  console.log(
    `Warm isolate memory: heap ${fmt(memory.heapBytesMean / 1024 / 1024)} MiB mean, RSS ${fmt(memory.rssBytesPerIsolate / 1024 / 1024)} MiB per isolate (${memory.isolates} isolates)`,
  );
  await mkdir(join(here, "results"), { recursive: true });
  const file = profileDir ? "edge-profiled.json" : "edge.json";
  await writeFile(
    join(here, `results/${file}`),
    `${JSON.stringify({ ...summary, profiled: Boolean(profileDir) }, null, 2)}\n`,
  );
  console.log(`\nwrote bench/results/${file}${profileDir ? `; CPU profiles in ${profileDir}` : ""}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
