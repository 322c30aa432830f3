/**
 * Scale-out on this machine (loopback only): throughput of an edge function with one gateway vs two
 * gateway processes behind HAProxy (deploy/haproxy/haproxy.cfg), and async throughput with one vs
 * two autoscaler processes. Everything shares this machine's 2 cores, so the ratios show the cost
 * of the extra hops and processes, not a speedup: on separate machines each gateway and node brings
 * its own cores. Recovery times after losing a component are measured by the cluster test
 * (`npx vitest run --project cluster`), which prints them.
 * Run: node --import tsx bench/cluster.bench.ts [--duration 5] [--workers 16]
 * Writes bench/results/cluster.json.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { connectBus, deleteNamespaceStreams, jetstreamManager } from "@kumo/bus";
import { Haproxy } from "../test/cluster/haproxy.ts";
import { freePort } from "../test/cluster/nats-cluster.ts";
import { ServiceProcess } from "../test/cluster/service-process.ts";
import { type Outcome, SteadyLoad } from "../test/cluster/steady-load.ts";
import { startTestGateway, TEST_DATABASE_URL, TEST_NATS_URL } from "../test/support/test-gateway.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    workers: { type: "string", default: "16" },
  },
});
const durationMs = Number(args.duration) * 1000;
const workers = Number(args.workers);

const HELLO = `export default { async fetch(request) {
  const body = await request.json();
  return Response.json(body);
} };`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const p50 = (outcomes: Outcome[]) => {
  const sorted = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

/** Closed-loop load for the configured duration; the answered requests per second and their p50. */
async function measure(
  url: string,
  kind: "sync" | "async",
): Promise<{ outcomes: Outcome[]; rps: number; p50: number }> {
  const load = new SteadyLoad({
    url,
    syncWorkers: kind === "sync" ? workers : 0,
    asyncWorkers: kind === "async" ? workers : 0,
    pauseMs: 0,
  });
  load.start();
  await sleep(1000); // warm-up, not counted
  const from = Date.now();
  await sleep(durationMs);
  const to = Date.now();
  await load.stop();
  const counted = load.outcomes.filter((o) => o.ok && o.at >= from && o.at < to);
  return { outcomes: load.outcomes, rps: (counted.length * 1000) / (to - from), p50: p50(counted) };
}

async function main(): Promise<void> {
  const namespace = `b${randomBytes(5).toString("hex")}`;
  const dataDir = `/tmp/kumo-bench-cluster-${namespace}`;
  const masterKey = randomBytes(32).toString("hex");
  const gw = await startTestGateway({ env: { KUMO_BUS_NAMESPACE: namespace, KUMO_MASTER_KEY: masterKey } });
  const processes: ServiceProcess[] = [];
  let lb: Haproxy | undefined;
  try {
    const tenant = await gw.tenant();
    await gw.call("POST", "/v1/functions", { key: tenant.key, body: { name: "hello", runtime: "edge" } });
    const dep = await gw.call("POST", "/v1/functions/hello/deployments", {
      key: tenant.key,
      body: { files: { "index.ts": HELLO } },
    });
    if (dep.json?.status !== "succeeded") throw new Error(`deploy failed: ${dep.body}`);
    const shared = {
      DATABASE_URL: TEST_DATABASE_URL,
      KUMO_DATABASE_SCHEMA: gw.schema,
      NATS_URL: TEST_NATS_URL,
      KUMO_BUS_NAMESPACE: namespace,
      KUMO_MASTER_KEY: masterKey,
      KUMO_LOG_LEVEL: "warn",
    };
    const gateway = async (i: number) =>
      new ServiceProcess("gateway", await freePort(), {
        ...shared,
        KUMO_BUILDER_URL: "off",
        KUMO_EDGE_HOSTS: "1",
        KUMO_DATA_DIR: `${dataDir}/gw${i}`,
      });
    const autoscaler = async (i: number) =>
      new ServiceProcess("autoscaler", await freePort(), {
        ...shared,
        KUMO_NODE_ID: `${namespace}-n${i}`,
        KUMO_DATA_DIR: `${dataDir}/n${i}`,
      });
    const [g1, g2, a1, a2] = [await gateway(1), await gateway(2), await autoscaler(1), await autoscaler(2)];
    processes.push(g1, g2, a1, a2);
    await Promise.all([g1.start(), g2.start(), a1.start()]);
    const path = `/fn/${tenant.name}/hello`;
    const startLb = async (gateways: ServiceProcess[]) =>
      Haproxy.start({
        port: await freePort(),
        statsPort: await freePort(),
        // One gateway: both server lines name it, so HAProxy is in the path all the same.
        gateways: [gateways[0], gateways[1] ?? gateways[0]].map((g) => `127.0.0.1:${g?.port}`),
      });

    // Warm both gateways' isolates and JIT first, so the first measurement is not the cold one.
    await Promise.all([measure(`${g1.url}${path}`, "sync"), measure(`${g2.url}${path}`, "sync")]);
    const direct = await measure(`${g1.url}${path}`, "sync");
    lb = await startLb([g1]);
    const oneBehind = await measure(`${lb.url}${path}`, "sync");
    lb.stop();
    lb = await startLb([g1, g2]);
    const twoBehind = await measure(`${lb.url}${path}`, "sync");

    // Async: accepted through both gateways, run by one autoscaler node, then by two. Throughput is
    // the drain rate: invocations accepted / (last one finished - first one accepted).
    const db = gw.gateway.database.db;
    const asyncRate = async () => {
      const run = await measure(`${lb?.url}${path}`, "async");
      const accepted = run.outcomes.filter((o) => o.invocationId);
      const ids = accepted.map((o) => o.invocationId as string);
      const until = Date.now() + 120_000;
      for (;;) {
        const rows = await db
          .selectFrom("invocations")
          .select(["finished_at"])
          .where("tenant_id", "=", tenant.id)
          .where("id", "in", ids)
          .where("status", "=", "succeeded")
          .execute();
        if (rows.length === ids.length || Date.now() > until) {
          const first = Math.min(...accepted.map((o) => o.at));
          const last = Math.max(...rows.map((r) => (r.finished_at ? new Date(r.finished_at).getTime() : 0)));
          return {
            accepted: run.rps,
            finished: (rows.length * 1000) / Math.max(1, last - first),
            p50: run.p50,
          };
        }
        await sleep(250);
      }
    };
    const oneNode = await asyncRate();
    await a2.start();
    const twoNodes = await asyncRate();

    const results = {
      machine:
        "2 cores shared by every process here (gateways, isolate hosts, autoscalers, HAProxy, NATS, PostgreSQL, load generator)",
      durationS: durationMs / 1000,
      workers,
      sync: {
        directToOneGateway: { rps: round(direct.rps), p50Ms: direct.p50 },
        oneGatewayBehindHaproxy: { rps: round(oneBehind.rps), p50Ms: oneBehind.p50 },
        twoGatewaysBehindHaproxy: { rps: round(twoBehind.rps), p50Ms: twoBehind.p50 },
        ratioTwoToOne: round(twoBehind.rps / oneBehind.rps, 2),
        ratioHaproxyToDirect: round(oneBehind.rps / direct.rps, 2),
      },
      async: {
        oneAutoscaler: { acceptedPerS: round(oneNode.accepted), finishedPerS: round(oneNode.finished) },
        twoAutoscalers: { acceptedPerS: round(twoNodes.accepted), finishedPerS: round(twoNodes.finished) },
        ratioTwoToOne: round(twoNodes.finished / Math.max(1, oneNode.finished), 2),
      },
    };
    console.log(
      "cluster bench: these ratios show the overhead of the extra hops and processes on one 2-core",
    );
    console.log(
      "machine, not a speedup: on separate machines each gateway and autoscaler node brings its own cores.",
    );
    console.table({
      "sync edge, 1 gateway direct": { "req/s": results.sync.directToOneGateway.rps, "p50 ms": direct.p50 },
      "sync edge, 1 gateway behind HAProxy": {
        "req/s": results.sync.oneGatewayBehindHaproxy.rps,
        "p50 ms": oneBehind.p50,
      },
      "sync edge, 2 gateways behind HAProxy": {
        "req/s": results.sync.twoGatewaysBehindHaproxy.rps,
        "p50 ms": twoBehind.p50,
      },
      "async, 1 autoscaler (finished/s)": {
        "req/s": results.async.oneAutoscaler.finishedPerS,
        "p50 ms": oneNode.p50,
      },
      "async, 2 autoscalers (finished/s)": {
        "req/s": results.async.twoAutoscalers.finishedPerS,
        "p50 ms": twoNodes.p50,
      },
    });
    console.log(
      `ratio 2 gateways / 1 (both behind HAProxy): ${results.sync.ratioTwoToOne}; HAProxy / direct: ${results.sync.ratioHaproxyToDirect}; ` +
        `2 autoscalers / 1: ${results.async.ratioTwoToOne}`,
    );
    await mkdir(join(here, "results"), { recursive: true });
    await writeFile(join(here, "results", "cluster.json"), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    lb?.stop();
    await Promise.all(processes.map((p) => p.stop().catch(() => p.kill())));
    const nc = await connectBus({ url: TEST_NATS_URL, name: "kumo-bench-cleanup" });
    await deleteNamespaceStreams(await jetstreamManager(nc), namespace).catch(() => {});
    await nc.close();
    await gw.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
