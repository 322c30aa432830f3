/**
 * Development aid: the provider path without HTTP. Keeps `concurrency` invocations in flight for
 * `seconds` and prints invocations/s and CPU µs per invocation of this process and of the hosts.
 * Usage: node --import tsx bench/support/edge-provider-loop.ts [seconds] [concurrency]
 */
import { readFileSync } from "node:fs";

const src = process.env.KUMO_EDGE_SRC ?? "../../runtimes/edge/src";
const { createEdgeProvider } = (await import(
  `${src}/index.ts`
)) as typeof import("../../runtimes/edge/src/index.ts");
const { edgeTarget } = (await import(
  `${src}/edge-test-kit.ts`
)) as typeof import("../../runtimes/edge/src/edge-test-kit.ts");
const { HELLO_WORKER } = await import("./edge-hello.ts");

const seconds = Number(process.argv[2] ?? "5");
const concurrency = Number(process.argv[3] ?? "50");
const provider = await createEdgeProvider({ hosts: 1 });
const target = await edgeTarget(HELLO_WORKER, { functionName: "hello" });
const headers = { host: "127.0.0.1:3000", connection: "keep-alive" };
let seq = 0;
const once = () =>
  provider.invoke(target, {
    invocationId: `b${++seq}`,
    trigger: "http",
    method: "GET",
    url: "/",
    headers,
    body: null,
    deadline: Date.now() + 10_000,
  });
const ticks = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
};
for (let i = 0; i < 2000; i++) await once();
const hostPid = provider.stats().hosts[0]?.pid ?? 0;
const t0 = [ticks(process.pid), ticks(hostPid)];
let done = 0;
const end = Date.now() + seconds * 1000;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) {
      await once();
      done++;
    }
  }),
);
const t1 = [ticks(process.pid), ticks(hostPid)];
const us = (i: number) => ((((t1[i] ?? 0) - (t0[i] ?? 0)) * 10_000) / done).toFixed(1);
console.log(`${(done / seconds).toFixed(0)} inv/s  cpu µs/inv: provider ${us(0)} host ${us(1)}`);
await provider.stop();
process.exit(0);
