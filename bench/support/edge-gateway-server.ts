/**
 * The full-gateway contender of bench/edge.bench.ts: the real Kumo gateway (fastify, routing,
 * version resolution, invocation records written to PostgreSQL, metrics) serving the same hello
 * function at /fn/bench/hello/. Needs the local PostgreSQL and NATS (`npm run bench` provisions
 * them). Prints "PORT <n>" once the function is deployed. Usage:
 *   node --import tsx bench/support/edge-gateway-server.ts [hosts]
 */
import { randomBytes } from "node:crypto";
import { connectBus } from "@kumo/bus";
import { openDatabase } from "@kumo/db";
import { bundleEdgeFunction, createEdgeProvider } from "@kumo/edge";
import { loadGatewayConfig, start } from "@kumo/gateway";
import { startTelemetry } from "@kumo/telemetry";
import { HELLO_WORKER } from "./edge-hello.ts";

const hosts = Number(process.argv[2] ?? "1");
// Off unless OTEL_* variables ask for traces (bench/tracing.bench.ts runs it with tracing on).
const telemetry = await startTelemetry("kumo-bench-gateway");
const schema = `bench_edge_${randomBytes(4).toString("hex")}`;
const database = await openDatabase({
  url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  schema,
});
const nats = await connectBus({ url: process.env.NATS_URL ?? "nats://127.0.0.1:4222", name: "bench-edge" });
const adminKey = `kumo_bench_${randomBytes(16).toString("hex")}`;
const config = loadGatewayConfig({
  KUMO_ADMIN_KEY: adminKey,
  KUMO_MASTER_KEY: randomBytes(32).toString("hex"),
  KUMO_DATA_DIR: `/tmp/kumo-${schema}`,
  KUMO_LOG_LEVEL: "silent",
  KUMO_PORT: "0",
  KUMO_BUS_NAMESPACE: schema.replaceAll("_", ""),
});
const edge = await createEdgeProvider({ hosts });
const gateway = await start(config, {
  database,
  nats,
  providers: [edge],
  bundleEdge: bundleEdgeFunction,
  builder: null,
});

const call = async (method: string, path: string, key: string, body: unknown) => {
  const res = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { apiKey?: { key: string } };
};
const tenant = await call("POST", "/v1/tenants", adminKey, { name: "bench" });
const key = tenant.apiKey?.key ?? "";
await call("POST", "/v1/functions", key, { name: "hello", runtime: "edge" });
await call("POST", "/v1/functions/hello/deployments", key, { files: { "index.js": HELLO_WORKER } });
console.log(`PORT ${new URL(gateway.url).port}`);

const shutdown = async () => {
  await gateway.stop();
  await edge.stop();
  await telemetry.stop();
  await database.db.schema.dropSchema(schema).ifExists().cascade().execute();
  await database.close();
  await nats.close();
  process.exit(0);
};
process.once("SIGTERM", () => void shutdown());
process.once("SIGINT", () => void shutdown());
