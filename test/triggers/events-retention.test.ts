import { purgeEvents } from "@kumo/db";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TriggerPlane, waitFor } from "./trigger-plane.ts";

const DAY_MS = 86_400_000;
const HELLO = `export default { async fetch() { return new Response("ok"); } };`;

let plane: TriggerPlane;
let other: { name: string; id: string; key: string };

beforeAll(async () => {
  plane = await new TriggerPlane().start();
  other = await plane.gw.tenant();
  await plane.deployEdge("audit", HELLO);
  const res = await plane.gw.call("POST", "/v1/functions/audit/triggers", {
    key: plane.tenant.key,
    body: { type: "event", eventType: "order.*" },
  });
  expect(res.status, res.body).toBe(201);
}, 180_000);

afterAll(async () => {
  await plane?.close();
}, 60_000);

const db = () => plane.gw.gateway.database.db;

/** `count` events of a tenant published `ageMs` ago, each delivered to two (made-up) triggers. */
async function oldEvents(tenantId: string, prefix: string, count: number, ageMs: number): Promise<void> {
  const at = new Date(Date.now() - ageMs);
  await sql`insert into events (tenant_id, id, type, data, published_at)
    select ${tenantId}, ${prefix} || n, 'order.paid', '{"old": true}'::jsonb, ${at}::timestamptz - n * interval '1 ms'
    from generate_series(1, ${count}) n`.execute(db());
  await sql`insert into event_deliveries (tenant_id, event_id, trigger_id, function_id, invocation_id)
    select ${tenantId}, ${prefix} || n, t, 'fn_old', 'inv_' || ${prefix} || n || t
    from generate_series(1, ${count}) n, unnest(array['trg_a', 'trg_b']) t`.execute(db());
}

async function counts(tenantId: string, prefix: string): Promise<{ events: number; deliveries: number }> {
  const e = await sql<{ n: string }>`select count(*) as n from events
    where tenant_id = ${tenantId} and id like ${`${prefix}%`}`.execute(db());
  const d = await sql<{ n: string }>`select count(*) as n from event_deliveries
    where tenant_id = ${tenantId} and event_id like ${`${prefix}%`}`.execute(db());
  return { events: Number(e.rows[0]?.n), deliveries: Number(d.rows[0]?.n) };
}

describe("triggers - events retention", () => {
  it("events retention - the leader deletes each tenant's events past KUMO_EVENTS_RETENTION with their deliveries; newer ones stay", async () => {
    // Two tenants, each with events past the retention, events just inside it, and new events.
    await oldEvents(plane.tenant.id, "old-", 1200, 8 * DAY_MS);
    await oldEvents(other.id, "old-", 300, 30 * DAY_MS);
    await oldEvents(plane.tenant.id, "recent-", 5, 6 * DAY_MS);
    await oldEvents(other.id, "recent-", 5, 6 * DAY_MS);
    for (const [key, id] of [
      [plane.tenant.key, "new-a"],
      [other.key, "new-b"],
    ] as const) {
      const res = await plane.gw.call("POST", "/v1/events", {
        key,
        body: { type: "order.paid", data: { n: 1 }, id },
      });
      expect(res.status, res.body).toBe(202);
    }

    // One pass does at most maxStatements deletes of at most batchSize events each.
    const first = await purgeEvents(db(), { retentionMs: 7 * DAY_MS, batchSize: 100, maxStatements: 3 });
    expect(first).toEqual({ events: 300, complete: false });

    await plane.startScheduler({ KUMO_EVENTS_RETENTION: "7d", KUMO_EVENTS_PURGE_INTERVAL: "200ms" });
    await waitFor("the old events of both tenants to go", async () => {
      const a = await counts(plane.tenant.id, "old-");
      const b = await counts(other.id, "old-");
      return a.events + b.events === 0;
    });
    for (const tenantId of [plane.tenant.id, other.id]) {
      expect(await counts(tenantId, "old-")).toEqual({ events: 0, deliveries: 0 });
      expect(await counts(tenantId, "recent-")).toEqual({ events: 5, deliveries: 10 });
    }
    expect(await counts(plane.tenant.id, "new-a")).toEqual({ events: 1, deliveries: 1 });
    expect(await counts(other.id, "new-b")).toEqual({ events: 1, deliveries: 0 });

    // What the API lists: each tenant its own new and recent events, nothing older.
    const listed = await plane.gw.call("GET", "/v1/events?limit=100", { key: plane.tenant.key });
    expect(listed.status, listed.body).toBe(200);
    const ids = listed.json.items.map((e: { id: string }) => e.id).sort();
    expect(ids).toEqual(["new-a", "recent-1", "recent-2", "recent-3", "recent-4", "recent-5"]);
    const otherIds = (await plane.gw.call("GET", "/v1/events?limit=100", { key: other.key })).json.items.map(
      (e: { id: string }) => e.id,
    );
    expect(otherIds.sort()).toEqual(["new-b", "recent-1", "recent-2", "recent-3", "recent-4", "recent-5"]);
  }, 60_000);
});
