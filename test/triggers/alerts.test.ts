import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError } from "../api/api-helpers.ts";
import { type ReceivedWebhook, startWebhookReceiver } from "../support/webhook-receiver.ts";
import { sleep, TriggerPlane, waitFor } from "./trigger-plane.ts";

/** Throws on every run: each firing is a failed run (maxRetries 0 makes it final at once). */
const FAILING = `export default { async fetch(request) {
  const event = await request.json();
  console.log("slot " + event.scheduledAt);
  throw new Error("export target unreachable");
} };`;
const ECHO = `export default { async fetch(request) {
  const event = await request.json();
  console.log("slot " + event.scheduledAt);
  return Response.json(event);
} };`;
/** Takes 1.5 s: with a schedule every second, every other slot comes while a run is in flight. */
const SLOW = `export default { async fetch(request) {
  const event = await request.json();
  console.log("slot " + event.scheduledAt);
  const started = Date.now();
  await new Promise((r) => setTimeout(r, 1500));
  return Response.json({ ...event, started, ended: Date.now() });
} };`;

const SIGNING_KEY = "whsec-test-signing-key";

let plane: TriggerPlane;
let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
let hookUrl: string;
let received: ReceivedWebhook[];

beforeAll(async () => {
  hook = await startWebhookReceiver();
  hookUrl = hook.url;
  received = hook.received;
  plane = await new TriggerPlane().start();
  await plane.deployEdge("nightly", FAILING, { maxRetries: 0 });
  await plane.deployEdge("slow", SLOW);
  await plane.deployEdge("tick", ECHO);
  const secret = await plane.gw.call("PUT", "/v1/secrets/ALERT_KEY", {
    key: plane.tenant.key,
    body: { value: SIGNING_KEY },
  });
  expect(secret.status, secret.body).toBeLessThan(300);
  await plane.startScheduler({ KUMO_MASTER_KEY: plane.masterKey, KUMO_ALERTS_ALLOW_PRIVATE: "true" });
}, 120_000);

afterAll(async () => {
  await plane?.close();
  await hook?.close();
}, 60_000);

async function addTrigger(fn: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await plane.gw.call("POST", `/v1/functions/${fn}/triggers`, { key: plane.tenant.key, body });
  expect(res.status, res.body).toBe(201);
  return res.json as Record<string, unknown>;
}

async function trigger(fn: string, id: string): Promise<Record<string, unknown>> {
  const res = await plane.gw.call("GET", `/v1/functions/${fn}/triggers/${id}`, { key: plane.tenant.key });
  expect(res.status, res.body).toBe(200);
  return res.json as Record<string, unknown>;
}

async function patch(fn: string, id: string, body: Record<string, unknown>): Promise<void> {
  const res = await plane.gw.call("PATCH", `/v1/functions/${fn}/triggers/${id}`, {
    key: plane.tenant.key,
    body,
  });
  expect(res.status, res.body).toBe(200);
}

const alertsFor = (triggerId: string) =>
  received.filter((r) => (r.body.trigger as { id?: string } | undefined)?.id === triggerId);

describe("triggers - failure alerts", () => {
  it("alerts - after N consecutive failures one signed alert, then one recovery notice when a run succeeds", async () => {
    const created = await addTrigger("nightly", {
      schedule: "* * * * * *",
      alert: { url: `${hookUrl}/alerts`, after: 3, secret: "ALERT_KEY" },
    });
    const id = created.id as string;
    // The URL's path may hold the webhook's credential: listings show only its origin.
    expect((created.alert as { url: string }).url).toBe(`${hookUrl}/…`);

    const [failure] = await waitFor("the failure alert", async () => {
      const got = alertsFor(id);
      return got.length > 0 ? got : undefined;
    });
    expect(failure?.body).toMatchObject({
      kind: "failure",
      tenant: plane.tenant.name,
      function: "nightly",
      trigger: { id, type: "cron" },
      errorCode: "FN_004",
    });
    expect(failure?.body.failures).toBeGreaterThanOrEqual(3);
    expect(String(failure?.body.message)).toContain("export target unreachable");
    // The alert names the failed run, whose record says failed.
    const failedRun = (await plane.runs(id)).find((r) => r.id === failure?.body.invocationId);
    expect(failedRun?.status).toBe("failed");
    // HMAC-SHA256 over "<t>.<body>" with the tenant secret's value.
    const sig = String(failure?.headers["kumo-signature"]);
    const [, t, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig) ?? [];
    expect(mac).toBe(createHmac("sha256", SIGNING_KEY).update(`${t}.${failure?.raw}`).digest("hex"));
    expect(failure?.headers["kumo-alert"]).toBe("failure");

    // Failures go on; the alert is not repeated while the trigger stays failing.
    await waitFor("more failed runs", async () => {
      const state = (await trigger("nightly", id)).state as { consecutiveFailures: number };
      return state.consecutiveFailures >= 6;
    });
    expect(alertsFor(id)).toHaveLength(1);
    const alerting = (await trigger("nightly", id)).state as {
      alert: { status: string; lastDelivery: { kind: string; delivered: boolean; statusCode: number } };
    };
    expect(alerting.alert.status).toBe("alerting");
    expect(alerting.alert.lastDelivery).toMatchObject({ kind: "failure", delivered: true, statusCode: 204 });

    // A fixed deploy: the next run succeeds, and the recovery notice follows.
    const fixed = await plane.gw.call("POST", "/v1/functions/nightly/deployments", {
      key: plane.tenant.key,
      body: { files: { "index.ts": ECHO }, config: { maxRetries: 0 } },
    });
    expect(fixed.json?.status, fixed.body).toBe("succeeded");
    const recovery = await waitFor("the recovery notice", async () =>
      alertsFor(id).find((r) => r.body.kind === "recovery"),
    );
    expect(recovery.body).toMatchObject({
      kind: "recovery",
      function: "nightly",
      failures: 0,
      errorCode: null,
    });
    await patch("nightly", id, { paused: true });
    const after = (await trigger("nightly", id)).state as { alert: { status: string } };
    expect(after.alert.status).toBe("ok");
    expect(alertsFor(id).map((r) => r.body.kind)).toEqual(["failure", "recovery"]);
  });

  it("alerts - slack format, a trigger that cannot fire counts as a failure, and an unreachable webhook is recorded, not retried forever", async () => {
    // No version behind the alias: every slot is an error state, which counts as a failure.
    const created = await plane.gw.call("POST", "/v1/functions", {
      key: plane.tenant.key,
      body: { name: "undeployed", runtime: "edge" },
    });
    expect(created.status, created.body).toBe(201);
    const slack = await addTrigger("undeployed", {
      schedule: "* * * * * *",
      alert: { url: `${hookUrl}/slack`, format: "slack" },
    });
    const message = await waitFor("the slack alert", async () =>
      received.find((r) => typeof r.body.text === "string" && r.body.text.includes(slack.id as string)),
    );
    expect(String(message.body.text)).toContain("undeployed");
    expect(message.headers["kumo-signature"]).toBeUndefined();
    await patch("undeployed", slack.id as string, { paused: true });

    // A closed port: the delivery fails, the state says so, and it is not sent again every tick.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const dead = await addTrigger("undeployed", {
      schedule: "* * * * * *",
      alert: { url: `http://127.0.0.1:${deadPort}/down` },
    });
    const delivery = await waitFor(
      "the failed delivery in the trigger state",
      async () => {
        const state = (await trigger("undeployed", dead.id as string)).state as {
          alert: { status: string; lastDelivery: { delivered: boolean; error?: string } | null };
        };
        return state.alert.lastDelivery ? state.alert : undefined;
      },
      30_000,
    );
    expect(delivery.status).toBe("alerting");
    expect(delivery.lastDelivery).toMatchObject({ delivered: false });
    expect(delivery.lastDelivery?.error).toMatch(/ECONNREFUSED/);
    await patch("undeployed", dead.id as string, { paused: true });
  });

  it("alerts - bad alert settings are 400 FN_006 naming the field; PATCH alert null removes it", async () => {
    const bad = [
      [{ schedule: "@hourly", alert: { url: "ftp://example.com/x" } }, "body.alert.url"],
      [{ schedule: "@hourly", alert: { url: `${hookUrl}/a`, after: 0 } }, "body.alert.after"],
      [{ schedule: "@hourly", alert: { url: `${hookUrl}/a`, format: "teams" } }, "body.alert.format"],
      [{ schedule: "@hourly", alert: { url: `${hookUrl}/a`, secret: "not a name" } }, "body.alert.secret"],
      [{ schedule: "@hourly", jitter: "2h" }, "body.jitter"],
      [{ schedule: "@hourly", overlap: "sometimes" }, "body.overlap"],
    ] as const;
    for (const [body, field] of bad) {
      const res = await plane.gw.call("POST", "/v1/functions/tick/triggers", { key: plane.tenant.key, body });
      expect(expectError(res, 400, "FN_006").message, JSON.stringify(body)).toContain(field);
    }
    const created = await addTrigger("tick", { schedule: "@hourly", alert: { url: `${hookUrl}/a` } });
    expect(created.alert).toMatchObject({ after: 1, format: "json" });
    await patch("tick", created.id as string, { alert: null });
    expect((await trigger("tick", created.id as string)).alert).toBeNull();
    const eventOnly = await plane.gw.call("PATCH", `/v1/functions/tick/triggers/${created.id}`, {
      key: plane.tenant.key,
      body: { batchSize: 10 },
    });
    expect(expectError(eventOnly, 400, "FN_006").message).toContain("a cron trigger has no batchSize");
  });
});

describe("triggers - overlap queue and jitter", () => {
  it("overlap queue - a slot that comes while the previous run is in flight waits for it, and runs never overlap", async () => {
    const created = await addTrigger("slow", { schedule: "* * * * * *", overlap: "queue" });
    const id = created.id as string;
    const runs = await waitFor(
      "four finished runs",
      async () => {
        const all = (await plane.runs(id)).filter(
          (r) => r.status === "succeeded" && r.event && r.executions > 0,
        );
        return all.length >= 4 ? all : undefined;
      },
      30_000,
    );
    await patch("slow", id, { paused: true });
    const spans = runs
      .map(
        (r) => r.event as unknown as { started: number; ended: number; scheduledAt: string; firedAt: string },
      )
      .sort((a, b) => a.started - b.started);
    for (let i = 1; i < spans.length; i++) {
      const previous = spans[i - 1] as { ended: number };
      expect((spans[i] as { started: number }).started).toBeGreaterThanOrEqual(previous.ended);
    }
    // Queued slots fire after their time (when the previous run ended), not at it.
    const late = spans.filter((s) => Date.parse(s.firedAt) - Date.parse(s.scheduledAt) > 400);
    expect(late.length).toBeGreaterThan(0);
    // Every run is a distinct slot, once.
    expect(new Set(spans.map((s) => s.scheduledAt)).size).toBe(spans.length);
    expect(runs.every((r) => r.executions === 1)).toBe(true);
  });

  it("jitter - each slot fires within its jitter after the slot, spread out, and still once", async () => {
    const created = await addTrigger("tick", { schedule: "* * * * * *", jitter: "700ms" });
    const id = created.id as string;
    expect(created.jitterMs).toBe(700);
    const runs = await waitFor(
      "six runs",
      async () => {
        const all = (await plane.runs(id)).filter((r) => r.status === "succeeded" && r.event);
        return all.length >= 6 ? all : undefined;
      },
      30_000,
    );
    await patch("tick", id, { paused: true });
    const delays = runs.map(
      (r) => Date.parse(r.event?.firedAt ?? "") - Date.parse(r.event?.scheduledAt ?? ""),
    );
    // Within the jitter plus a tick (100 ms) and some slack for a loaded machine.
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(0);
    for (const d of delays) expect(d).toBeLessThan(700 + 600);
    // Spread: not all at the slot (six slots all under 100 ms has odds of about (1/7)^6).
    expect(Math.max(...delays)).toBeGreaterThan(100);
    expect(new Set(runs.map((r) => r.event?.scheduledAt)).size).toBe(runs.length);
    await sleep(0);
  });
});

describe("triggers - kumo.json", () => {
  it("config triggers - policies, jitter and the function-wide alert apply; a redeploy with new settings keeps the trigger", async () => {
    const deploy = (triggers: unknown[]) =>
      plane.gw.call("POST", "/v1/functions/tick/deployments", {
        key: plane.tenant.key,
        body: {
          files: { "index.ts": ECHO },
          config: { alert: { url: `${hookUrl}/default`, after: 2 }, triggers },
        },
      });
    const first = await deploy([
      {
        type: "cron",
        schedule: "0 3 * * *",
        timezone: "Europe/Berlin",
        catchUp: "once",
        catchUpWindow: "6h",
      },
      { type: "cron", schedule: "@hourly", jitter: "5m", overlap: "queue", alert: { url: `${hookUrl}/own` } },
    ]);
    expect(first.json?.status, first.body).toBe("succeeded");
    const list = async () =>
      (
        (await plane.gw.call("GET", "/v1/functions/tick/triggers", { key: plane.tenant.key })).json as {
          items: Record<string, unknown>[];
        }
      ).items.filter((t) => t.source === "config");
    const declared = await list();
    const nightly = declared.find((t) => t.schedule === "0 3 * * *");
    const hourly = declared.find((t) => t.schedule === "@hourly");
    expect(nightly).toMatchObject({
      timezone: "Europe/Berlin",
      catchUp: "once",
      catchUpWindowMs: 6 * 3_600_000,
      alert: { after: 2, format: "json" },
    });
    expect(hourly).toMatchObject({ jitterMs: 300_000, overlap: "queue", alert: { after: 1 } });

    // Same schedule, new catch-up: the same trigger (same id), new settings.
    const second = await deploy([
      { type: "cron", schedule: "0 3 * * *", timezone: "Europe/Berlin", catchUp: "all" },
    ]);
    expect(second.json?.status, second.body).toBe("succeeded");
    const after = await list();
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: nightly?.id, catchUp: "all", catchUpWindowMs: 3_600_000 });
  });
});
