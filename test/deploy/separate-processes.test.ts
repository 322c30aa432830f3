import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createInterface } from "node:readline";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DATABASE_URL, TEST_NATS_URL } from "../support/test-gateway.ts";

const SERVICES = ["gateway", "builder", "autoscaler", "scheduler"] as const;

describe("deployment - services as separate processes", () => {
  const schema = `t_sep_${randomBytes(4).toString("hex")}`;
  const adminKey = `kumo_test_admin_${randomBytes(16).toString("hex")}`;
  const urls = new Map<string, string>();
  let launcher: ChildProcess;
  const output: string[] = [];

  beforeAll(async () => {
    launcher = spawn(process.execPath, ["deploy/run-separate.mjs"], {
      env: {
        ...process.env,
        DATABASE_URL: TEST_DATABASE_URL,
        KUMO_DATABASE_SCHEMA: schema,
        NATS_URL: TEST_NATS_URL,
        KUMO_ADMIN_KEY: adminKey,
        KUMO_MASTER_KEY: randomBytes(32).toString("hex"),
        KUMO_DATA_DIR: `/tmp/kumo-${schema}`,
        KUMO_PORT: "0",
        KUMO_BUILDER_PORT: "0",
        // The BuildService on a socket of this run, so a running `kumo dev` (127.0.0.1:8091) does not collide.
        KUMO_BUILDER_LISTEN: `unix:/tmp/kumo-${schema}.builder.sock`,
        KUMO_BUILDER_URL: `unix:/tmp/kumo-${schema}.builder.sock`,
        KUMO_AUTOSCALER_PORT: "0",
        KUMO_SCHEDULER_PORT: "0",
        KUMO_NODE_ID: schema,
        KUMO_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    createInterface({ input: launcher.stderr as NodeJS.ReadableStream }).on("line", (line) =>
      output.push(line),
    );
    const lines = createInterface({ input: launcher.stdout as NodeJS.ReadableStream });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`services did not all become ready:\n${output.join("\n")}`)),
        60_000,
      );
      lines.on("line", (line) => {
        output.push(line);
        const match = /kumo-(\w+): ready on (http:\/\/\S+)/.exec(line);
        if (match?.[1] && match[2]) urls.set(match[1], match[2]);
        if (urls.size === SERVICES.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      launcher.once("exit", () => reject(new Error(`launcher exited early:\n${output.join("\n")}`)));
    });
  }, 90_000);

  afterAll(async () => {
    if (launcher.exitCode === null) {
      launcher.kill("SIGTERM");
      await once(launcher, "exit");
    }
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  });

  it("separate processes - every service reports ready", async () => {
    for (const service of SERVICES) {
      const res = await fetch(`${urls.get(service)}/readyz`);
      expect(res.status, `${service} /readyz`).toBe(200);
      const metrics = await fetch(`${urls.get(service)}/metrics`);
      expect(metrics.status, `${service} /metrics`).toBe(200);
      expect(await metrics.text()).toMatch(/^# HELP kumo_\w+process_cpu/m);
    }
  });

  it("separate processes - the gateway process deploys and serves an edge function", async () => {
    const gw = urls.get("gateway");
    const call = (method: string, path: string, key: string, body?: unknown) =>
      fetch(`${gw}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const created = await call("POST", "/v1/tenants", adminKey, { name: "sep" });
    expect(created.status).toBe(201);
    const tenantKey = ((await created.json()) as { apiKey: { key: string } }).apiKey.key;
    expect((await call("POST", "/v1/functions", tenantKey, { name: "echo", runtime: "edge" })).status).toBe(
      201,
    );
    const deployed = await call("POST", "/v1/functions/echo/deployments", tenantKey, {
      files: { "index.js": "export default { fetch: (req) => new Response('separate ' + req.method) }" },
    });
    expect(deployed.status).toBe(202);
    const res = await fetch(`${gw}/fn/sep/echo/`, { method: "PUT", body: "x" });
    expect(await res.text()).toBe("separate PUT");
  });

  it("separate processes - SIGTERM stops every service cleanly", async () => {
    launcher.kill("SIGTERM");
    const [code] = await once(launcher, "exit");
    expect(code, output.join("\n")).toBe(0);
  });
});
