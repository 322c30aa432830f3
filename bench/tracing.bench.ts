/**
 * What tracing costs on the hot path: the edge hello function through the full gateway (routing,
 * resolution, isolate host, invocation records), three gateways side by side: tracing off, on with
 * 1 % of traces sampled, on with all of them sampled. Spans go over OTLP/HTTP (protobuf) to a sink in
 * this process that reads and drops them, as a collector would. Loaded in alternating rounds (order
 * reversed every round) so other work on the machine hits all three alike; medians are reported.
 * Run: node --import tsx bench/tracing.bench.ts [--duration 8] [--rounds 3] [--connections 50]
 * Prints a table and writes bench/results/tracing.json. Needs PostgreSQL and NATS (`npm run bench`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { cpuPerRequest, processTreeCpu } from "./support/edge-process-cpu.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
  },
});
const duration = Number(args.duration);
const rounds = Math.max(1, Number(args.rounds));
const connections = Number(args.connections);
const PATH = "/fn/bench/hello/";

interface Contender {
  name: "off" | "sampled 1%" | "sampled 100%";
  port: number;
  child: ChildProcess;
}

/** An OTLP/HTTP endpoint that reads every export and drops it, counting requests and bytes. */
async function startSink(): Promise<{
  url: string;
  exports: () => number;
  bytes: () => number;
  close(): void;
}> {
  let exports = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on("data", (c: Buffer) => {
      bytes += c.byteLength;
    });
    req.on("end", () => {
      exports++;
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports: () => exports,
    bytes: () => bytes,
    close: () => server.close(),
  };
}

function startGateway(name: Contender["name"], env: Record<string, string>): Promise<Contender> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(here, "support/edge-gateway-server.ts"), "1"],
      {
        cwd: join(here, ".."),
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /PORT (\d+)/.exec(out);
      if (match?.[1]) resolve({ name, port: Number(match[1]), child });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${name} exited (${code}): ${out}`)));
    setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 60_000).unref();
  });
}

async function load(port: number, seconds: number) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${PATH}`,
    connections,
    duration: seconds,
    pipelining: 1,
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

async function stop(c: Contender): Promise<void> {
  if (c.child.exitCode !== null) return;
  const exited = new Promise((r) => c.child.once("exit", r));
  c.child.kill("SIGTERM");
  const timer = setTimeout(() => c.child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
};

async function main() {
  console.log(
    `tracing bench: ${cpus().length} cores, ${rounds} rounds x ${duration}s x ${connections} connections`,
  );
  const sink = await startSink();
  const traced = (ratio: string) => ({
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: ratio,
    OTEL_NODE_RESOURCE_DETECTORS: "none",
  });
  // Started one after another: three bundling gateways at once would time out on two cores.
  const contenders: Contender[] = [];
  contenders.push(await startGateway("off", { OTEL_TRACES_EXPORTER: "none" }));
  contenders.push(await startGateway("sampled 1%", traced("0.01")));
  contenders.push(await startGateway("sampled 100%", traced("1")));
  const samples = new Map<string, { rps: number; p50: number; p99: number; errors: number; cpu: number }[]>();
  try {
    for (const c of contenders) await load(c.port, 2); // warm-up: isolate, caches, JIT
    for (let round = 0; round < rounds; round++) {
      for (const c of round % 2 === 0 ? contenders : [...contenders].reverse()) {
        const pid = c.child.pid ?? 0;
        const before = processTreeCpu(pid);
        const figures = await load(c.port, duration);
        const cpu = cpuPerRequest(before, processTreeCpu(pid), figures.rps * duration);
        const total = Object.values(cpu).reduce((a, b) => a + b, 0);
        const list = samples.get(c.name) ?? [];
        list.push({ ...figures, cpu: Number(total.toFixed(1)) });
        samples.set(c.name, list);
        console.log(
          `round ${round + 1} ${c.name.padEnd(12)} ${figures.rps} req/s, CPU ${total.toFixed(1)} µs/req`,
        );
      }
    }
  } finally {
    await Promise.all(contenders.map(stop));
    sink.close();
  }
  const off = median((samples.get("off") ?? []).map((s) => s.rps));
  const offRounds = (samples.get("off") ?? []).map((s) => s.rps);
  const results = Object.fromEntries(
    contenders.map((c) => {
      const list = samples.get(c.name) ?? [];
      const rps = median(list.map((s) => s.rps));
      return [
        c.name,
        {
          rps,
          ratioToOff: Number((rps / off).toFixed(3)),
          ratioToOffPerRound: list.map((s, i) => Number((s.rps / (offRounds[i] ?? 1)).toFixed(3))),
          p50: median(list.map((s) => s.p50)),
          p99: median(list.map((s) => s.p99)),
          cpuUsPerRequest: median(list.map((s) => s.cpu)),
          errors: list.reduce((n, s) => n + s.errors, 0),
          rounds: list,
        },
      ];
    }),
  );
  console.log(
    `\n| tracing      | req/s (median of ${rounds}) | vs off | per round | p50 ms | p99 ms | CPU µs/req | errors |`,
  );
  console.log(
    "|--------------|------------------|--------|-----------|--------|--------|------------|--------|",
  );
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `| ${name.padEnd(12)} | ${String(r.rps).padStart(16)} | ${r.ratioToOff.toFixed(3)} | ${r.ratioToOffPerRound.join(" ")} | ${r.p50} | ${r.p99} | ${r.cpuUsPerRequest} | ${r.errors} |`,
    );
  }
  console.log(
    `\nspans exported: ${sink.exports()} OTLP requests, ${(sink.bytes() / 1024 / 1024).toFixed(1)} MiB`,
  );
  const summary = {
    machine: { cores: cpus().length, model: cpus()[0]?.model, node: process.version },
    settings: {
      duration,
      rounds,
      connections,
      path: PATH,
      exporter: "otlp http/protobuf to an in-process sink",
    },
    results,
    otlp: { requests: sink.exports(), bytes: sink.bytes() },
    target: "sampled 1% within 3% of off (ratioToOff >= 0.97)",
  };
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results/tracing.json"), `${JSON.stringify(summary, null, 2)}\n`);
  console.log("wrote bench/results/tracing.json");
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
