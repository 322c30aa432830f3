import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError } from "../api/api-helpers.ts";
import { type ReceivedWebhook, startWebhookReceiver } from "../support/webhook-receiver.ts";
import { TriggerPlane, waitFor } from "../triggers/trigger-plane.ts";

/** Fails when asked to (`?fail=1`), so a test sets the error rate it wants. */
const FLAKY = `export default { async fetch(request) {
  if (new URL(request.url).searchParams.get("fail")) throw new Error("upstream said no");
  return new Response("ok");
} };`;
const SIGNING_KEY = "rules-signing-key-4e1b";

let plane: TriggerPlane;
let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
let hookUrl: string;
let received: ReceivedWebhook[];

beforeAll(async () => {
  hook = await startWebhookReceiver(200);
  hookUrl = hook.url;
  received = hook.received;
  plane = await new TriggerPlane().start();
  await plane.deployEdge("flaky", FLAKY);
  const secret = await plane.gw.call("PUT", "/v1/secrets/RULES_KEY", {
    key: plane.tenant.key,
    body: { value: SIGNING_KEY },
  });
  expect(secret.status, secret.body).toBeLessThan(300);
  await plane.startScheduler({
    KUMO_MASTER_KEY: plane.masterKey,
    KUMO_ALERTS_ALLOW_PRIVATE: "true",
    KUMO_ALERT_RULES_EVERY: "200ms",
  });
}, 120_000);

afterAll(async () => {
  await plane?.close();
  await hook?.close();
}, 60_000);

async function invoke(times: number, fail: boolean): Promise<void> {
  for (let i = 0; i < times; i++) {
    const res = await plane.gw.call("GET", `/fn/${plane.tenant.name}/flaky${fail ? "?fail=1" : ""}`);
    expect(res.status).toBe(fail ? 500 : 200);
  }
  // Records, then their minute rollups, reach the database (the recorder writes rollups each second).
  await plane.gw.gateway.flushRecords();
}

async function addRule(body: Record<string, unknown>): Promise<string> {
  const res = await plane.gw.call("POST", "/v1/alerts", { key: plane.tenant.key, body });
  expect(res.status, res.body).toBe(201);
  return res.json.id as string;
}

describe("observability - alert rules", () => {
  it("alert rules - an error rate over the threshold fires once (signed), and resolves once it is back under", async () => {
    const id = await addRule({
      name: "flaky-errors",
      function: "flaky",
      metric: "error_rate",
      threshold: 0.5,
      window: "5m",
      minInvocations: 4,
      webhook: { url: `${hookUrl}/rules`, secret: "RULES_KEY" },
    });
    // Below the minimum number of invocations there is no verdict, whatever the rate.
    await invoke(2, true);
    await new Promise((r) => setTimeout(r, 800));
    expect(received.filter((r) => r.path === "/rules")).toHaveLength(0);

    await invoke(4, true);
    const firing = await waitFor("the firing notification", async () =>
      received.find((r) => r.path === "/rules" && r.body.kind === "firing"),
    );
    expect(firing.body).toMatchObject({
      kind: "firing",
      tenant: plane.tenant.name,
      function: "flaky",
      rule: { id, name: "flaky-errors", metric: "error_rate", threshold: 0.5, windowMs: 300_000 },
    });
    expect(firing.body.value).toBe(1);
    const [, t, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(firing.headers["kumo-signature"])) ?? [];
    expect(mac).toBe(createHmac("sha256", SIGNING_KEY).update(`${t}.${firing.raw}`).digest("hex"));

    // Still failing: no second notification.
    await invoke(2, true);
    await new Promise((r) => setTimeout(r, 800));
    expect(received.filter((r) => r.path === "/rules")).toHaveLength(1);

    // 8 failures among 40: 20 %, under the threshold.
    await invoke(32, false);
    const resolved = await waitFor("the resolved notification", async () =>
      received.find((r) => r.path === "/rules" && r.body.kind === "resolved"),
    );
    expect(resolved.body.value).toBeCloseTo(8 / 40, 5);
    // The delivery is written to the history after the webhook answered: poll for it.
    const historyOf = async () => {
      const rule = await plane.gw.call("GET", `/v1/alerts/${id}`, { key: plane.tenant.key });
      expect(rule.status, rule.body).toBe(200);
      return rule.json.history.map((e: { kind: string; delivered: boolean }) => [e.kind, e.delivered]);
    };
    await expect.poll(historyOf, { timeout: 10_000 }).toEqual([
      ["resolved", true],
      ["firing", true],
    ]);
    const rule = await plane.gw.call("GET", `/v1/alerts/${id}`, { key: plane.tenant.key });
    expect(rule.json.state).toMatchObject({ status: "ok" });
    expect(rule.json.webhook.url).toBe(`${hookUrl}/…`);
  });

  it("alert rules - a failed deploy fires a tenant-wide rule in Slack's shape", async () => {
    await addRule({
      name: "deploys",
      metric: "failed_deploys",
      threshold: 0,
      window: "1h",
      webhook: { url: `${hookUrl}/deploys`, format: "slack" },
    });
    const broken = await plane.gw.call("POST", "/v1/functions/flaky/deployments", {
      key: plane.tenant.key,
      body: { files: { "index.ts": "export default { fetch( {" } },
    });
    expect(expectError(broken, 422, "FN_005").message).toContain("build failed");
    const message = await waitFor("the slack message", async () =>
      received.find((r) => r.path === "/deploys"),
    );
    expect(String(message.body.text)).toMatch(
      /deploys: failed_deploys of all functions of .* is 1 \(above 0\)/,
    );
  });

  it("alert rules - bad rules are 400 FN_006 naming the field; names are unique; unknown functions are 404", async () => {
    const base = { name: "r1", metric: "error_rate", threshold: 0.1, webhook: { url: `${hookUrl}/x` } };
    const bad = [
      [{ ...base, metric: "latency" }, "body.metric"],
      [{ ...base, threshold: 2 }, "body.threshold"],
      [{ ...base, window: "10s" }, "body.window"],
      [{ ...base, webhook: { url: "ftp://x.example/y" } }, "body.webhook.url"],
      [{ ...base, name: "Not A Name" }, "body.name"],
    ] as const;
    for (const [body, field] of bad) {
      const res = await plane.gw.call("POST", "/v1/alerts", { key: plane.tenant.key, body });
      expect(expectError(res, 400, "FN_006").message, JSON.stringify(body)).toContain(field);
    }
    const missing = await plane.gw.call("POST", "/v1/alerts", {
      key: plane.tenant.key,
      body: { ...base, function: "nope" },
    });
    expectError(missing, 404, "FN_001");
    await addRule(base);
    const twice = await plane.gw.call("POST", "/v1/alerts", { key: plane.tenant.key, body: base });
    expect(expectError(twice, 409, "FN_006").message).toContain("body.name");
  });
});
