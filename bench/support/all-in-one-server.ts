/**
 * The `npm start` contender of the benchmarks: the all-in-one launcher (every service under one
 * command, embedded PGlite unless DATABASE_URL is set) started as a user starts it, with the hello
 * function deployed through its public API. Prints "PORT <n>" (and "PID <launcher pid>") once the
 * function answers. Usage:
 *   node --import tsx bench/support/all-in-one-server.ts edge|node
 * Stops the launcher (and removes its data directory) on SIGTERM/SIGINT.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HELLO_WORKER } from "./edge-hello.ts";
import { freePort } from "./free-port.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const runtime = process.argv[2] === "node" ? "node" : "edge";

const dataDir = await mkdtemp(join(tmpdir(), "kumo-bench-aio-"));
const port = await freePort();
const child: ChildProcess = spawn(
  process.execPath,
  [
    // e.g. --cpu-prof --cpu-prof-dir=DIR to profile the launcher's process
    ...(process.env.KUMO_BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
    "--import",
    "tsx",
    "apps/all-in-one/src/main.ts",
    "--port",
    String(port),
    "--data-dir",
    dataDir,
  ],
  { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, KUMO_LOG_LEVEL: "silent" } },
);
let out = "";
child.stdout?.on("data", (chunk: Buffer) => {
  out += chunk.toString();
});
child.stderr?.on("data", (chunk: Buffer) => {
  out += chunk.toString();
});
child.once("exit", (code) => {
  process.stderr.write(`all-in-one exited (${code}): ${out.slice(-2000)}\n`);
  process.exit(1);
});
const deadline = Date.now() + 120_000;
while (!out.includes("Ctrl-C stops Kumo")) {
  if (Date.now() > deadline) throw new Error(`the all-in-one launcher did not start: ${out}`);
  await new Promise((r) => setTimeout(r, 200));
}
const key = (await readFile(join(dataDir, "dev-tenant.key"), "utf8")).trim();
const base = `http://127.0.0.1:${port}`;
const call = async (method: string, path: string, body: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
};
await call("POST", "/v1/functions", { name: "hello", runtime });
await call("POST", "/v1/functions/hello/deployments", {
  files: { [runtime === "node" ? "index.mjs" : "index.js"]: HELLO_WORKER },
  ...(runtime === "node"
    ? { config: { runtime, scaling: { minInstances: 1, concurrency: 64, maxInstances: 2 } } }
    : {}),
});
// The first call starts the container (node) or the isolate: the contender is warm when measured.
for (let i = 0; i < 300; i++) {
  const res = await fetch(`${base}/fn/dev/hello/`);
  if (res.status === 200) break;
  await new Promise((r) => setTimeout(r, 200));
}
console.log(`PID ${child.pid}`);
console.log(`PORT ${port}`);

const shutdown = async () => {
  child.removeAllListeners("exit");
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  await rm(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.once("SIGTERM", () => void shutdown());
process.once("SIGINT", () => void shutdown());
