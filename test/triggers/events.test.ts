import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError } from "../api/api-helpers.ts";
import { sleep, TriggerPlane, waitFor } from "./trigger-plane.ts";

/** Echoes the event and its kumo-event-type header, and logs one line per execution. */
const ECHO = `export default { async fetch(request) {
  const event = await request.json();
  console.log("event " + event.eventId);
  return Response.json({ eventTypeHeader: request.headers.get("kumo-event-type"), event });
} };`;
const FAILING = `export default { async fetch(request) {
  const event = await request.json();
  console.log("event " + event.eventId);
  throw new Error("cannot take " + event.eventType);
} };`;

interface Run {
  id: string;
  status: string;
  trigger: string;
  attempts: number;
  body: { eventTypeHeader: string; event: Record<string, unknown> } | null;
}

let plane: TriggerPlane;
const triggers: Record<string, string> = {};

beforeAll(async () => {
  plane = await new TriggerPlane().start();
  // "signup" subscribes through kumo.json; the others through the API.
  await plane.deployEdge("signup", ECHO, { triggers: [{ type: "event", eventType: "user.*" }] });
  for (const name of ["audit", "welcome", "billing", "ship"]) await plane.deployEdge(name, ECHO);
  await plane.deployEdge("flaky", FAILING, { maxRetries: 2 });
  const listed = await plane.gw.call("GET", "/v1/functions/signup/triggers", { key: plane.tenant.key });
  expect(listed.json.items).toHaveLength(1);
  expect(listed.json.items[0]).toMatchObject({ type: "event", eventType: "user.*", source: "config" });
  triggers.signup = listed.json.items[0].id;
  triggers.audit = await addEventTrigger("audit", "user.>");
  triggers.welcome = await addEventTrigger("welcome", "user.created");
  triggers.billing = await addEventTrigger("billing", "payment.processed");
  triggers.ship = await addEventTrigger("ship", "order.*");
  triggers.flaky = await addEventTrigger("flaky", "order.placed");
}, 180_000);

afterAll(async () => {
  await plane?.close();
}, 60_000);

async function addEventTrigger(fn: string, eventType: string, key = plane.tenant.key): Promise<string> {
  const res = await plane.gw.call("POST", `/v1/functions/${fn}/triggers`, {
    key,
    body: { type: "event", eventType },
  });
  expect(res.status, res.body).toBe(201);
  return res.json.id as string;
}

function publish(body: Record<string, unknown>, key = plane.tenant.key) {
  return plane.gw.call("POST", "/v1/events", { key, body });
}

/** A trigger's runs for one event, straight from the database. */
async function runs(triggerId: string, eventId: string): Promise<Run[]> {
  const rows = await plane.gw.gateway.database.db
    .selectFrom("invocations as i")
    .innerJoin("event_deliveries as d", (j) =>
      j.onRef("d.invocation_id", "=", "i.id").onRef("d.tenant_id", "=", "i.tenant_id"),
    )
    .select(["i.id", "i.status", "i.trigger", "i.attempts", "i.result"])
    .where("i.trigger_id", "=", triggerId)
    .where("d.event_id", "=", eventId)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    status: r.status,
    trigger: r.trigger,
    attempts: r.attempts,
    body: r.result ? (JSON.parse(Buffer.from(r.result).toString("utf8")) as Run["body"]) : null,
  }));
}

/** How many times functions of a tenant ran for an event (log lines "event <id>"). */
async function executions(tenantId: string, eventId: string): Promise<number> {
  const result = await sql<{ n: string }>`
    select count(*) as n from logs where tenant_id = ${tenantId} and message = ${`event ${eventId}`}`.execute(
    plane.gw.gateway.database.db,
  );
  return Number(result.rows[0]?.n ?? 0);
}

async function finished(triggerId: string, eventId: string): Promise<Run> {
  return waitFor(`the run of ${triggerId} for ${eventId}`, async () => {
    const [run] = await runs(triggerId, eventId);
    return run && (run.status === "succeeded" || run.status === "failed") ? run : undefined;
  });
}

describe("triggers - events", () => {
  it("events - one event fans out to three subscribers through wildcards, not to a non-matching one", async () => {
    const res = await publish({ type: "user.created", data: { userId: 42 }, id: "evt-user-42" });
    expect(res.status, res.body).toBe(202);
    expect(res.json).toMatchObject({ eventId: "evt-user-42", type: "user.created", duplicate: false });
    const delivered = res.json.deliveries as { triggerId: string; function: string; invocationId: string }[];
    expect(delivered.map((d) => d.function).sort()).toEqual(["audit", "signup", "welcome"]);
    for (const name of ["signup", "audit", "welcome"]) {
      const triggerId = triggers[name] ?? "";
      const run = await finished(triggerId, "evt-user-42");
      expect(run.status).toBe("succeeded");
      expect(run.trigger).toBe("event");
      expect(run.id).toBe(delivered.find((d) => d.function === name)?.invocationId);
      expect(run.body?.eventTypeHeader).toBe("event");
      expect(run.body?.event).toEqual({
        type: "event",
        triggerId,
        eventId: "evt-user-42",
        eventType: "user.created",
        data: { userId: 42 },
        publishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
    }
    expect(await runs(triggers.billing ?? "", "evt-user-42")).toEqual([]);

    const listed = await plane.gw.call("GET", "/v1/events?limit=10", { key: plane.tenant.key });
    expect(listed.status, listed.body).toBe(200);
    const event = listed.json.items.find((e: { id: string }) => e.id === "evt-user-42");
    expect(event).toMatchObject({ type: "user.created", data: { userId: 42 } });
    expect(
      event.deliveries.map((d: { function: string; status: string }) => [d.function, d.status]).sort(),
    ).toEqual([
      ["audit", "succeeded"],
      ["signup", "succeeded"],
      ["welcome", "succeeded"],
    ]);
    const state = await plane.gw.call("GET", `/v1/functions/welcome/triggers/${triggers.welcome}`, {
      key: plane.tenant.key,
    });
    expect(state.json.state.lastInvocationId).toBe(
      delivered.find((d) => d.function === "welcome")?.invocationId,
    );
  });

  it("events - a repeated event id fans out once, also when the repeats race", async () => {
    const first = await publish({ type: "user.deleted", id: "evt-dup-1" });
    expect(first.status, first.body).toBe(202);
    const again = await publish({ type: "user.deleted", id: "evt-dup-1" });
    expect(again.status, again.body).toBe(202);
    expect(again.json.duplicate).toBe(true);
    expect(again.json.deliveries).toEqual(first.json.deliveries);
    const raced = await Promise.all([1, 2, 3].map(() => publish({ type: "user.deleted", id: "evt-dup-2" })));
    for (const r of raced) expect(r.status, r.body).toBe(202);
    const ids = raced.map((r) =>
      r.json.deliveries.map((d: { invocationId: string }) => d.invocationId).sort(),
    );
    expect(ids[1]).toEqual(ids[0]);
    expect(ids[2]).toEqual(ids[0]);
    for (const eventId of ["evt-dup-1", "evt-dup-2"]) {
      for (const name of ["signup", "audit"]) await finished(triggers[name] ?? "", eventId);
      await sleep(500);
      // user.deleted reaches signup (user.*) and audit (user.>), once each.
      expect(await executions(plane.tenant.id, eventId)).toBe(2);
    }
    const otherType = await publish({ type: "user.created", id: "evt-dup-1" });
    expect(expectError(otherType, 409, "FN_006").message).toMatch(/body\.id: .*user\.deleted/);
  });

  it("events - a failing subscriber is retried on its own while the others succeed", async () => {
    const res = await publish({ type: "order.placed", data: { orderId: "o-1" }, id: "evt-order-1" });
    expect(res.status, res.body).toBe(202);
    expect(res.json.deliveries.map((d: { function: string }) => d.function).sort()).toEqual([
      "flaky",
      "ship",
    ]);
    const ship = await finished(triggers.ship ?? "", "evt-order-1");
    expect(ship).toMatchObject({ status: "succeeded", attempts: 1 });
    const flaky = await finished(triggers.flaky ?? "", "evt-order-1");
    expect(flaky).toMatchObject({ status: "failed", attempts: 3 });
    // Log lines are shipped in batches after the records: polled until the last attempt's is written.
    await waitFor("four executions logged", async () =>
      (await executions(plane.tenant.id, "evt-order-1")) >= 4 ? true : undefined,
    );
    expect(await executions(plane.tenant.id, "evt-order-1")).toBe(4);
    const listed = await plane.gw.call("GET", "/v1/events?type=order.placed", { key: plane.tenant.key });
    const deliveries = listed.json.items[0].deliveries as {
      function: string;
      status: string;
      attempts: number;
    }[];
    expect(deliveries.map((d) => [d.function, d.status, d.attempts]).sort()).toEqual([
      ["flaky", "failed", 3],
      ["ship", "succeeded", 1],
    ]);
  });

  it("events - another tenant's event reaches none of this tenant's functions", async () => {
    const b = await plane.gw.tenant();
    const created = await plane.gw.call("POST", "/v1/functions", {
      key: b.key,
      body: { name: "signup", runtime: "edge" },
    });
    expect(created.status, created.body).toBe(201);
    const dep = await plane.gw.call("POST", "/v1/functions/signup/deployments", {
      key: b.key,
      body: { files: { "index.ts": ECHO } },
    });
    expect(dep.json?.status, dep.body).toBe("succeeded");
    const bTrigger = await addEventTrigger("signup", "user.*", b.key);
    const res = await publish({ type: "user.created", data: { from: "b" }, id: "evt-user-42" }, b.key);
    expect(res.status, res.body).toBe(202);
    // Same id and type as A's event: B's own event, delivered to B's subscriber only.
    expect(res.json.duplicate).toBe(false);
    expect(res.json.deliveries).toEqual([
      expect.objectContaining({ triggerId: bTrigger, function: "signup" }),
    ]);
    await waitFor("B's run", async () => (await executions(b.id, "evt-user-42")) === 1);
    await sleep(500);
    expect(await executions(plane.tenant.id, "evt-user-42")).toBe(3);
    const aRuns = await runs(triggers.signup ?? "", "evt-user-42");
    expect(aRuns).toHaveLength(1);
    expect(aRuns[0]?.body?.event.data).toEqual({ userId: 42 });
    const bList = await plane.gw.call("GET", "/v1/events", { key: b.key });
    expect(bList.json.items.map((e: { id: string; data: unknown }) => [e.id, e.data])).toEqual([
      ["evt-user-42", { from: "b" }],
    ]);
  });

  it("events api - bad patterns, bad or missing types and cron-only fields are 400 FN_006 naming the field", async () => {
    const key = plane.tenant.key;
    const badPattern = await plane.gw.call("POST", "/v1/functions/ship/triggers", {
      key,
      body: { type: "event", eventType: "order..placed" },
    });
    expect(expectError(badPattern, 400, "FN_006").message).toMatch(/body\.eventType: .*segment 2/);
    const badTail = await plane.gw.call("POST", "/v1/functions/ship/triggers", {
      key,
      body: { type: "event", eventType: "order.>.x" },
    });
    expect(expectError(badTail, 400, "FN_006").message).toMatch(/body\.eventType: .*last segment/);
    expect(expectError(await publish({ data: {} }), 400, "FN_006").message).toMatch(/body\.type/);
    expect(expectError(await publish({ type: "user.*" }), 400, "FN_006").message).toMatch(
      /body\.type: .*wildcards/,
    );
    expect(expectError(await publish({ type: "a", id: "bad id" }), 400, "FN_006").message).toMatch(
      /body\.id/,
    );
    const patch = await plane.gw.call("PATCH", `/v1/functions/ship/triggers/${triggers.ship}`, {
      key,
      body: { schedule: "* * * * *" },
    });
    expect(expectError(patch, 400, "FN_006").message).toMatch(/body\.schedule: an event trigger/);
    const fire = await plane.gw.call("POST", `/v1/functions/ship/triggers/${triggers.ship}/fire`, { key });
    expect(expectError(fire, 400, "FN_006").message).toMatch(/POST \/v1\/events/);
    const badConfig = await plane.gw.call("POST", "/v1/functions/ship/deployments", {
      key,
      body: {
        files: { "index.ts": ECHO },
        config: { triggers: [{ type: "event", eventType: "us*r" }] },
      },
    });
    expect(badConfig.status, badConfig.body).toBe(400);
    expect(badConfig.json.error.code).toBe("FN_006");
    expect(badConfig.body).toMatch(/eventType/);
    const viewer = await plane.gw.key(plane.tenant.name, key, "viewer");
    expectError(await publish({ type: "user.created" }, viewer.key), 403, "FN_009");
    const invoker = await plane.gw.key(plane.tenant.name, key, "invoker");
    expect((await publish({ type: "nobody.listens" }, invoker.key)).json).toMatchObject({ deliveries: [] });
  });
});
