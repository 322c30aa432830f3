import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type Autoscaler, loadAutoscalerConfig, start as startAutoscaler } from "@kumo/autoscaler";
import { type Builder, loadBuilderConfig, start as startBuilder } from "@kumo/builder";
import { loadSchedulerConfig, type Scheduler, start as startScheduler } from "@kumo/scheduler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testAutoscalerEnv, waitFor } from "../invocation/plane.ts";
import { startTestGateway, TEST_NATS_URL, type TestGateway } from "../support/test-gateway.ts";

const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const promDir = join(repoRoot, "deploy/prometheus");
const dashboardsDir = join(repoRoot, "deploy/grafana/dashboards");

/** Every metric family each service exposes, read from its /metrics (histograms with their series). */
async function exportedMetrics(urls: string[]): Promise<Set<string>> {
  const names = new Set<string>();
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      if (!name) continue;
      names.add(name);
      if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(`${name}${s}`);
      if (type === "summary") for (const s of ["_sum", "_count"]) names.add(`${name}${s}`);
    }
  }
  return names;
}

/** The metric names a PromQL expression reads: Kumo's own (`kumo_…`) and recording rules (`kumo:…`). */
const metricsIn = (expr: string) => [...expr.matchAll(/\bkumo[_:][a-z0-9_:]+/g)].map((m) => m[0]);

const recordedRules = () =>
  new Set(
    [...readFileSync(join(promDir, "kumo-rules.yml"), "utf8").matchAll(/- record: (\S+)/g)].map((m) => m[1]),
  );

let gw: TestGateway;
let autoscaler: Autoscaler;
let scheduler: Scheduler;
let builder: Builder;
let prometheus: ChildProcess | undefined;
const workDir = mkdtempSync(join(tmpdir(), "kumo-prometheus-"));

beforeAll(async () => {
  const namespace = `t${randomBytes(5).toString("hex")}`;
  const masterKey = randomBytes(32).toString("hex");
  gw = await startTestGateway({
    edge: true,
    listen: true,
    env: { KUMO_BUS_NAMESPACE: namespace, KUMO_MASTER_KEY: masterKey },
  });
  autoscaler = await startAutoscaler(
    loadAutoscalerConfig({
      ...testAutoscalerEnv({
        nodeId: `${namespace}-n1`,
        namespace,
        schema: gw.schema,
        masterKey,
        dataDir: join(workDir, "data"),
      }),
      KUMO_HOST: "127.0.0.1",
    }),
    { database: gw.gateway.database, log: () => {} },
  );
  scheduler = await startScheduler(
    loadSchedulerConfig({
      KUMO_HOST: "127.0.0.1",
      KUMO_SCHEDULER_PORT: "0",
      NATS_URL: TEST_NATS_URL,
      KUMO_BUS_NAMESPACE: namespace,
    }),
    { database: gw.gateway.database, log: () => {} },
  );
  builder = await startBuilder(
    loadBuilderConfig({
      KUMO_HOST: "127.0.0.1",
      KUMO_BUILDER_PORT: "0",
      KUMO_BUILDER_LISTEN: "127.0.0.1:0",
      NATS_URL: TEST_NATS_URL,
      KUMO_BUILD_LABELS: "dev.kumo.test=1",
    }),
    {},
  );
}, 120_000);

afterAll(async () => {
  prometheus?.kill("SIGKILL");
  await builder?.stop().catch(() => {});
  await scheduler?.stop().catch(() => {});
  await autoscaler?.stop().catch(() => {});
  await gw?.close().catch(() => {});
  rmSync(workDir, { recursive: true, force: true });
}, 60_000);

describe("observability - shipped Prometheus and Grafana files", () => {
  it("prometheus - promtool accepts the shipped rules and config", async () => {
    const rules = await run("promtool", ["check", "rules", join(promDir, "kumo-rules.yml")]);
    expect(rules.stdout).toMatch(/SUCCESS: \d+ rules found/);
    const config = await run("promtool", ["check", "config", join(promDir, "prometheus.yml")]);
    expect(config.stdout).toContain("SUCCESS");
  });

  it("prometheus - the real Prometheus scrapes every service with the shipped jobs and rules, and a recording rule answers", async () => {
    // The shipped config with the services' real (free) ports in place of their defaults.
    const ports: Record<string, string> = {
      "127.0.0.1:8080": new URL(gw.gateway.url).host,
      "127.0.0.1:8081": new URL(builder.url).host,
      "127.0.0.1:8082": new URL(autoscaler.url).host,
      "127.0.0.1:8083": new URL(scheduler.url).host,
    };
    let config = readFileSync(join(promDir, "prometheus.yml"), "utf8")
      .replace("scrape_interval: 15s", "scrape_interval: 1s")
      .replace("evaluation_interval: 15s", "evaluation_interval: 1s");
    for (const [from, to] of Object.entries(ports)) config = config.replace(from, to);
    writeFileSync(join(workDir, "prometheus.yml"), config);
    writeFileSync(join(workDir, "kumo-rules.yml"), readFileSync(join(promDir, "kumo-rules.yml")));
    const promPort = 20_000 + Math.floor(Math.random() * 20_000);
    prometheus = spawn(
      "prometheus",
      [
        `--config.file=${join(workDir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(workDir, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: "ignore" },
    );
    const api = async (path: string) =>
      (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/${path}`)).json()) as {
        data: Record<string, unknown> & { result?: unknown[] };
      };
    const targets = await waitFor(
      "every target up",
      async () => {
        const res = await api("targets").catch(() => undefined);
        const active = (res?.data.activeTargets ?? []) as { labels: { job: string }; health: string }[];
        return active.length === 4 && active.every((t) => t.health === "up") ? active : undefined;
      },
      30_000,
    );
    expect(targets.map((t) => t.labels.job).sort()).toEqual([
      "kumo-autoscaler",
      "kumo-builder",
      "kumo-gateway",
      "kumo-scheduler",
    ]);

    // Traffic: an edge function invoked through the gateway, so the invocation rules have input.
    const tenant = await gw.tenant();
    const created = await gw.call("POST", "/v1/functions", {
      key: tenant.key,
      body: { name: "hello", runtime: "edge" },
    });
    expect(created.status, created.body).toBe(201);
    const dep = await gw.call("POST", "/v1/functions/hello/deployments", {
      key: tenant.key,
      body: { files: { "index.ts": `export default { fetch() { return new Response("hi"); } };` } },
    });
    expect(dep.json?.status, dep.body).toBe("succeeded");
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      const res = await fetch(`${gw.gateway.url}/fn/${tenant.name}/hello`);
      expect(res.status).toBe(200);
      await res.text();
      await new Promise((r) => setTimeout(r, 100));
    }
    const rate = await waitFor(
      "kumo:invocations:rate5m to have a value",
      async () => {
        const res = await api("query?query=kumo:invocations:rate5m");
        const result = (res.data.result ?? []) as { value: [number, string] }[];
        return result.length > 0 && Number(result[0]?.value[1]) > 0 ? result : undefined;
      },
      30_000,
    );
    expect(Number(rate[0]?.value[1])).toBeGreaterThan(0);
    // The alert rules are loaded and evaluated (none should fire here: everything is up).
    const rules = await api("rules");
    const groups = (rules.data.groups ?? []) as { name: string; rules: { name: string; health: string }[] }[];
    const alerting = groups.find((g) => g.name === "kumo-alerts");
    expect(alerting?.rules.length).toBeGreaterThanOrEqual(5);
    expect(alerting?.rules.every((r) => r.health === "ok")).toBe(true);
  }, 90_000);

  it("grafana - the dashboards are the generator's output, and every query names a metric Kumo exports", async () => {
    const { dashboards } = await import("../../deploy/grafana/build-dashboards.mjs");
    const files = readdirSync(dashboardsDir).filter((f) => f.endsWith(".json"));
    expect(files.sort()).toEqual(dashboards.map((d) => `${d.uid}.json`).sort());
    const exported = await exportedMetrics([gw.gateway.url, autoscaler.url, scheduler.url, builder.url]);
    const recorded = recordedRules();
    const missing: string[] = [];
    for (const file of files) {
      const parsed = JSON.parse(readFileSync(join(dashboardsDir, file), "utf8")) as {
        uid: string;
        panels: { title: string; targets: { expr: string }[] }[];
      };
      expect(parsed, `${file} is out of date: run node deploy/grafana/build-dashboards.mjs`).toEqual(
        dashboards.find((d) => d.uid === parsed.uid),
      );
      for (const panel of parsed.panels) {
        expect(panel.targets.length, `${file}: ${panel.title}`).toBeGreaterThan(0);
        for (const target of panel.targets) {
          for (const name of metricsIn(target.expr)) {
            if (!exported.has(name) && !recorded.has(name)) missing.push(`${file}: ${panel.title}: ${name}`);
          }
        }
      }
    }
    // The rules themselves read only exported metrics (or other rules).
    for (const [, expr] of readFileSync(join(promDir, "kumo-rules.yml"), "utf8").matchAll(/expr: (.+)$/gm)) {
      for (const name of metricsIn(expr ?? "")) {
        if (!exported.has(name) && !recorded.has(name)) missing.push(`kumo-rules.yml: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
