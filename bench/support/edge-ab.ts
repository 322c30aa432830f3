/**
 * A/B driver (development aid): runs several server variants in alternating rounds under the same
 * external autocannon process, so noisy-machine effects hit every variant alike.
 * Usage: node --import tsx bench/support/edge-ab.ts <seconds> <rounds> <variant>...
 * variant = name=cmd args... with env as ENV=VALUE prefixes, e.g. "old=KUMO_EDGE_SRC=/x node ..."
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuPerRequest, processTreeCpu } from "./edge-process-cpu.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const [secondsArg, roundsArg, ...specs] = process.argv.slice(2);
const seconds = Number(secondsArg ?? "5");
const rounds = Number(roundsArg ?? "3");
const connections = Number(process.env.CONNS ?? "50");

function parse(spec: string) {
  const eq = spec.indexOf("=");
  const name = spec.slice(0, eq);
  const words = spec
    .slice(eq + 1)
    .split(/\s+/)
    .filter(Boolean);
  const env: Record<string, string> = {};
  while (words[0] && /^[A-Z_]+=/.test(words[0])) {
    const [k, ...v] = (words.shift() ?? "").split("=");
    env[k ?? ""] = v.join("=");
  }
  return { name, cmd: words[0] ?? "", args: words.slice(1), env };
}

async function run(v: ReturnType<typeof parse>) {
  const child = spawn(v.cmd, v.args, {
    cwd: root,
    env: { ...process.env, ...v.env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (c) => reject(new Error(`${v.name} exited ${c}`)));
  });
  const cannon = (s: number) =>
    new Promise<{ rps: number; p50: number; p99: number; errors: number }>((resolve) => {
      const ac = spawn(
        join(root, "node_modules/.bin/autocannon"),
        ["-j", "-c", String(connections), "-d", String(s), `http://127.0.0.1:${port}/`],
        { stdio: ["ignore", "pipe", "ignore"] },
      );
      let out = "";
      ac.stdout.on("data", (c: Buffer) => {
        out += c;
      });
      ac.once("exit", () => {
        const r = JSON.parse(out);
        resolve({
          rps: Math.round(r.requests.average),
          p50: r.latency.p50,
          p99: r.latency.p99,
          errors: r.errors + r.timeouts + r.non2xx,
        });
      });
    });
  await cannon(2);
  const before = processTreeCpu(child.pid ?? 0);
  const r = await cannon(seconds);
  Object.assign(r, { cpuUsPerReq: cpuPerRequest(before, processTreeCpu(child.pid ?? 0), r.rps * seconds) });
  const exited = new Promise((res) => child.once("exit", res));
  child.kill("SIGTERM");
  await exited;
  return r;
}

const variants = specs.map(parse);
const all: Record<string, number[]> = {};
for (let round = 0; round < rounds; round++) {
  for (const v of round % 2 ? [...variants].reverse() : variants) {
    const r = await run(v);
    all[v.name] = [...(all[v.name] ?? []), r.rps];
    console.log(
      `round ${round} ${v.name.padEnd(12)} ${String(r.rps).padStart(6)} rps  p50 ${r.p50}  p99 ${r.p99}  err ${r.errors}  cpu µs/req ${JSON.stringify((r as { cpuUsPerReq?: unknown }).cpuUsPerReq)}`,
    );
  }
}
for (const [name, list] of Object.entries(all)) {
  const sorted = [...list].sort((a, b) => a - b);
  console.log(`${name.padEnd(12)} median ${sorted[Math.floor(sorted.length / 2)]}  all ${list.join(" ")}`);
}
