/**
 * The autoscaler's client side of a container call, in isolation: ShimClient (undici's pool through
 * `dispatch`) against node:http's keep-alive Agent and ClientRequest (what the autoscaler used
 * before), both calling the same stand-in shim, a node:http hello server in its own process on a
 * unix socket, with the headers a node forwards (x-forwarded-*, kumo-*). Each round measures both
 * clients, alternating: serial calls (p50/p90 latency, client CPU per call) and 64 calls in flight
 * (calls/s, client CPU per call). The figures are the medians of the rounds.
 * Run: node --import tsx bench/shim-client.bench.ts [--rounds 3] [--calls 5000] [--seconds 3].
 * Writes bench/results/shim-client.json.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { Agent, request as httpRequest } from "node:http";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ShimClient } from "../services/autoscaler/src/shim-client.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    calls: { type: "string", default: "5000" },
    seconds: { type: "string", default: "3" },
  },
});
const rounds = Math.max(1, Number(args.rounds));
const serialCalls = Number(args.calls);
const loadSeconds = Number(args.seconds);
const IN_FLIGHT = 64;

const round = (n: number, digits = 1) => Number(n.toFixed(digits));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

const SERVER = `
const { createServer } = require("node:http");
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "13", "kumo-usage": "cpu=0.05;rss=1234" });
    res.end("Hello, world!");
  });
});
server.keepAliveTimeout = 0;
server.listen(process.argv[1], () => console.log("ready"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

type Call = () => Promise<Buffer>;

interface Figures {
  serialP50Us: number;
  serialP90Us: number;
  serialClientCpuUs: number;
  inFlightCallsPerSecond: number;
  inFlightClientCpuUs: number;
}

async function measure(call: Call): Promise<Figures> {
  for (let i = 0; i < 2000; i++) await call();
  const samples: number[] = [];
  let cpu = process.cpuUsage();
  for (let i = 0; i < serialCalls; i++) {
    const start = performance.now();
    await call();
    samples.push(performance.now() - start);
  }
  const serialCpu = process.cpuUsage(cpu);
  samples.sort((a, b) => a - b);
  let done = 0;
  const until = performance.now() + loadSeconds * 1000;
  cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        await call();
        done++;
      }
    }),
  );
  const loadCpu = process.cpuUsage(cpu);
  const elapsed = (performance.now() - started) / 1000;
  return {
    serialP50Us: round((samples[Math.floor(samples.length / 2)] ?? 0) * 1000),
    serialP90Us: round((samples[Math.floor(samples.length * 0.9)] ?? 0) * 1000),
    serialClientCpuUs: round((serialCpu.user + serialCpu.system) / serialCalls),
    inFlightCallsPerSecond: Math.round(done / elapsed),
    inFlightClientCpuUs: round((loadCpu.user + loadCpu.system) / Math.max(1, done)),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kumo-bench-shim-"));
  const socketPath = join(dir, "rt.sock");
  const server: ChildProcess = spawn(process.execPath, ["-e", SERVER, socketPath], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout?.once("data", () => resolve());
      server.once("exit", (code) => reject(new Error(`the stand-in shim exited (${code})`)));
    });
    const headers: Record<string, string> = {
      "x-forwarded-for": "127.0.0.1",
      "x-forwarded-proto": "http",
      "x-forwarded-host": "127.0.0.1:8080",
      "x-forwarded-prefix": "/fn/dev/hello",
      "x-real-ip": "127.0.0.1",
      "kumo-invocation-id": "0b9d6c4e-6f3a-4c1e-9d1e-0f4b8a9c2d71",
      "kumo-deadline-ms": String(Date.now() + 600_000),
      "kumo-trigger": "http",
      "user-agent": "bench",
    };
    const shim = new ShimClient({ socketPath, ownerUid: process.getuid?.() ?? 0, maxSockets: IN_FLIGHT });
    if (!shim.pin()) throw new Error("the stand-in shim's socket is missing");
    const viaShimClient: Call = async () =>
      ShimClient.read(await shim.call({ method: "GET", path: "/invoke/", headers, body: null }));
    // The baseline: the autoscaler's previous client, a keep-alive Agent and a ClientRequest per call.
    const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT, maxFreeSockets: IN_FLIGHT });
    const viaNodeHttp: Call = () =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ agent, socketPath, method: "GET", path: "/invoke/", headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.once("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
          res.once("error", reject);
        });
        req.on("error", reject);
        req.end();
      });

    const runs: { shimClient: Figures; nodeHttp: Figures }[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternating order, so neither client always runs on a warmer machine.
      const first = r % 2 === 0 ? "shimClient" : "nodeHttp";
      const a = await measure(first === "shimClient" ? viaShimClient : viaNodeHttp);
      const b = await measure(first === "shimClient" ? viaNodeHttp : viaShimClient);
      const run = first === "shimClient" ? { shimClient: a, nodeHttp: b } : { shimClient: b, nodeHttp: a };
      console.log(`round ${r + 1}`, run);
      runs.push(run);
    }
    const med = (client: "shimClient" | "nodeHttp") =>
      Object.fromEntries(
        (Object.keys(runs[0]?.[client] ?? {}) as (keyof Figures)[]).map((k) => [
          k,
          median(runs.map((run) => run[client][k])),
        ]),
      ) as unknown as Figures;
    const shimClient = med("shimClient");
    const nodeHttp = med("nodeHttp");
    const result = {
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version },
      rounds,
      serialCalls,
      inFlight: IN_FLIGHT,
      shimClient,
      baselineNodeHttpAgent: nodeHttp,
      ratios: {
        inFlightClientCpu: round(shimClient.inFlightClientCpuUs / nodeHttp.inFlightClientCpuUs, 2),
        serialClientCpu: round(shimClient.serialClientCpuUs / nodeHttp.serialClientCpuUs, 2),
        serialP50: round(shimClient.serialP50Us / nodeHttp.serialP50Us, 2),
      },
      runs,
    };
    console.log(
      JSON.stringify({ shimClient, baselineNodeHttpAgent: nodeHttp, ratios: result.ratios }, null, 2),
    );
    await mkdir(join(here, "results"), { recursive: true });
    await writeFile(join(here, "results", "shim-client.json"), `${JSON.stringify(result, null, 2)}\n`);
    shim.close();
    agent.destroy();
  } finally {
    server.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
