import { createHmac } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FUNCTION_TEMPLATES } from "@kumo/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { injectFetch } from "./support/inject-fetch.ts";
import { type KumoRun, runKumo } from "./support/run-kumo.ts";

/**
 * Every `kumo init --template` template, created by the CLI, deployed with `kumo deploy` to a real
 * gateway (PostgreSQL, NATS, isolate host; through inject) and called the way it is meant to be.
 */
describe("kumo init templates - deployed to a real platform", () => {
  let t: TestGateway;
  let dir: string;
  let tenantKey: string;
  let run: (argv: string[], stdin?: string) => Promise<KumoRun>;

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    dir = await mkdtemp(join(tmpdir(), "kumo-cli-templates-"));
    const tenant = await t.tenant();
    tenantKey = tenant.key;
    const fetch = injectFetch(t.gateway.app);
    const env = {
      KUMO_URL: "http://127.0.0.1:8080",
      KUMO_API_KEY: tenant.key,
      KUMO_CONFIG: join(dir, "config.json"),
    };
    run = (argv, stdin) => runKumo(argv, { cwd: dir, fetch, now: Date.now(), env, stdin });
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function initAndDeploy(name: string, template: string): Promise<void> {
    const init = await run(["init", name, "--template", template]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`from template ${template}`);
    const deploy = await run(["deploy", name, "--json"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(JSON.parse(deploy.stdout)).toMatchObject({ name, version: 1 });
  }

  it("templates - kumo init --list lists every template, and an unknown one names the choices", async () => {
    const listed = await run(["init", "--list", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).templates.map((row: { id: string }) => row.id)).toEqual(
      FUNCTION_TEMPLATES.map((template) => template.id),
    );
    const unknown = await run(["init", "x", "--template", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown template "nope": expected one of webhook, scheduled-export');
    const both = await run(["init", "x", "--template", "webhook", "--runtime", "node"]);
    expect(both.code).toBe(2);
  });

  it("templates - webhook: a correctly signed POST is accepted, a forged one gets 401", async () => {
    await initAndDeploy("hook", "webhook");
    // .env is for local runs and is never uploaded: the platform's value is a tenant secret.
    expect(await readFile(join(dir, "hook", ".kumoignore"), "utf8")).toContain(".env");
    expect((await run(["secrets", "set", "WEBHOOK_SECRET", "--value", "platform-secret"])).code).toBe(0);
    const body = JSON.stringify({ type: "invoice.created", id: "inv_7" });
    const signature = `sha256=${createHmac("sha256", "platform-secret").update(body).digest("hex")}`;
    const ok = await run(["invoke", "hook", "--data", body, "-H", `x-signature-256:${signature}`, "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      status: 200,
      body: { received: true, type: "invoice.created", id: "inv_7" },
    });
    // The sample's signature is made with the local .env secret, not the platform's.
    const sample = JSON.parse(await readFile(join(dir, "hook", "request.json"), "utf8"));
    const forged = await run([
      "invoke",
      "hook",
      "--data",
      sample.body,
      "-H",
      `x-signature-256:${sample.headers["x-signature-256"]}`,
    ]);
    expect(forged.code).toBe(1);
    expect(forged.stdout).toContain("bad signature");
  });

  it("templates - scheduled export: kumo.json's cron trigger is created, and a firing exports its window", async () => {
    await initAndDeploy("nightly", "scheduled-export");
    const triggers = await run(["triggers", "ls", "nightly", "--json"]);
    expect(triggers.code, triggers.stderr).toBe(0);
    expect(JSON.parse(triggers.stdout).items).toMatchObject([
      { type: "cron", schedule: "0 * * * *", timezone: "UTC" },
    ]);
    const firing = {
      type: "cron",
      scheduledAt: "2026-02-01T06:00:00.000Z",
      lastScheduledAt: "2026-02-01T04:00:00.000Z",
    };
    const exported = await run(["invoke", "nightly", "--data", JSON.stringify(firing)]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout.split("\n")).toEqual([
      "hour,orders,revenue",
      "2026-02-01T04:00:00.000Z,14,175.00",
      "2026-02-01T05:00:00.000Z,15,187.50",
    ]);
  });

  it("templates - workflow step: POST /v1/functions/:name/run routes by amount, and bad input takes the error branch", async () => {
    await initAndDeploy("approve", "workflow-step");
    const step = (input: unknown, env: Record<string, string> = {}) =>
      t.call("POST", "/v1/functions/approve/run", {
        key: tenantKey,
        body: { input, context: { workflowId: "wf_1", runId: "run_9", stepId: "approve", env } },
      });
    const small = await step({ orderId: "o1", amount: 40 });
    expect(small.status, small.body).toBe(200);
    expect(small.json).toMatchObject({ output: { orderId: "o1", status: "approved" }, nextPath: "approve" });
    expect(small.json.logs.map((line: { message: string }) => line.message)).toEqual([
      "order o1 of 40 (limit 1000) in run run_9",
    ]);
    const large = await step({ orderId: "o2", amount: 400 }, { APPROVAL_LIMIT: "100" });
    expect(large.json).toMatchObject({ output: { status: "needs-review", limit: 100 }, nextPath: "review" });
    const bad = await step({ orderId: "o3" });
    expect(bad.status).toBe(200);
    expect(bad.json).toMatchObject({
      output: null,
      nextPath: "error",
      error: {
        code: "FN_004",
        message: expect.stringContaining("input.amount must be a non-negative number"),
      },
    });
  });

  it("templates - PII mask: e-mails, card and phone numbers and secret fields are masked", async () => {
    await initAndDeploy("mask", "pii-mask");
    const message = {
      from: "Reach me at jo.doe@example.org or +44 20 7946 0958",
      card: "5555555555554444",
      items: [{ note: "card 4111-1111-1111-1111 on file", qty: 2 }],
      token: "abc",
    };
    const masked = await run(["invoke", "mask", "--data", JSON.stringify(message), "--json"]);
    expect(masked.code, masked.stderr).toBe(0);
    const answer = JSON.parse(masked.stdout);
    expect(answer.body).toEqual({
      from: "Reach me at j***@example.org or ***58",
      card: "[redacted]",
      items: [{ note: "card **** **** **** 1111 on file", qty: 2 }],
      token: "[redacted]",
    });
    expect(answer.headers["x-masked-values"]).toBe("5");
    const notJson = await run(["invoke", "mask", "--data", "plain text"]);
    expect(notJson.code).toBe(1);
    expect(notJson.stdout).toContain("the body must be JSON");
  });

  it("templates - Lambda-style API: routes on the public URL answer as API Gateway would", async () => {
    await initAndDeploy("items", "lambda-api");
    const list = await run(["invoke", "items", "-X", "GET", "--path", "/items"]);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual({ items: [{ id: "1", name: "first item" }] });
    const created = await run([
      "invoke",
      "items",
      "-X",
      "POST",
      "--path",
      "/items",
      "--data",
      '{"name":"pen"}',
      "--json",
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ status: 201, body: { id: "2", name: "pen" } });
    const missing = await run(["invoke", "items", "-X", "GET", "--path", "/items/99"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("item 99 not found");
  });
});
