import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError } from "../api/api-helpers.ts";
import { BATCH_ECHO, type Batch, batches } from "./queue-batches.ts";
import { sleep, TriggerPlane, waitFor } from "./trigger-plane.ts";

let plane: TriggerPlane;

beforeAll(async () => {
  plane = await new TriggerPlane().start();
  for (const name of ["orders", "retry", "poison", "tenant-a", "ordered"])
    await plane.deployEdge(name, BATCH_ECHO);
  await plane.startScheduler({
    KUMO_QUEUE_ACK_WAIT: "5s",
    KUMO_QUEUE_RETRY: "200ms",
    KUMO_QUEUE_TRIGGER_RECONCILE: "200ms",
    KUMO_MASTER_KEY: plane.masterKey,
  });
}, 180_000);

afterAll(async () => {
  await plane?.close();
}, 60_000);

function publish(queue: string, body: unknown, key = plane.tenant.key) {
  return plane.gw.call("POST", `/v1/queues/${queue}/messages`, { key, body });
}

async function addQueueTrigger(fn: string, body: Record<string, unknown>, key = plane.tenant.key) {
  const res = await plane.gw.call("POST", `/v1/functions/${fn}/triggers`, {
    key,
    body: { type: "queue", ...body },
  });
  expect(res.status, res.body).toBe(201);
  return res.json.id as string;
}

const deliveredIds = (list: Batch[]) => list.flatMap((b) => b.seen.map((s) => s.id));

describe("triggers - queues", () => {
  it("queues - messages published before the trigger existed arrive in batches of its size, in order", async () => {
    const messages = Array.from({ length: 12 }, (_, i) => ({ id: `o-${i}`, data: { n: i } }));
    const res = await publish("orders", { messages });
    expect(res.status, res.body).toBe(202);
    expect(res.json.messages.map((m: { id: string }) => m.id)).toEqual(messages.map((m) => m.id));
    const seqs = res.json.messages.map((m: { seq: number }) => m.seq) as number[];
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);

    const triggerId = await addQueueTrigger("orders", { queue: "orders", batchSize: 5, batchWindow: "1s" });
    const list = await waitFor(
      "12 messages in batches",
      async () => {
        const b = await batches(plane, triggerId);
        return deliveredIds(b).length >= 12 ? b : undefined;
      },
      30_000,
    );
    expect(list.map((b) => b.seen.length)).toEqual([5, 5, 2]);
    expect(deliveredIds(list)).toEqual(messages.map((m) => m.id));
    expect(list[0]).toMatchObject({ type: "queue", queue: "orders", header: "queue" });
    expect(list[0]?.seen[0]).toMatchObject({ id: "o-0", key: null, data: { n: 0 }, deliveries: 1 });
    expect(list[0]?.seen[0]?.publishedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    // A single message, published again under its id, is stored once and delivered once.
    const one = await publish("orders", { data: { n: 12 }, id: "o-12", key: "k" });
    expect(one.status, one.body).toBe(202);
    const again = await publish("orders", { data: { n: 12 }, id: "o-12", key: "k" });
    expect(again.json.messages[0]).toMatchObject({
      id: "o-12",
      seq: one.json.messages[0].seq,
      duplicate: true,
    });
    await waitFor("o-12", async () => deliveredIds(await batches(plane, triggerId)).includes("o-12"));
    await sleep(1000);
    expect(deliveredIds(await batches(plane, triggerId)).filter((id) => id === "o-12")).toHaveLength(1);

    // The trigger's state: its last run, and its lag (0: nothing waits).
    const state = await waitFor("the lag report", async () => {
      const t = await plane.gw.call("GET", `/v1/functions/orders/triggers/${triggerId}`, {
        key: plane.tenant.key,
      });
      return t.json.state.lastStatus === "succeeded" && t.json.state.source?.lag === 0 ? t.json : undefined;
    });
    expect(state.state.source.lastBatchAt).toMatch(/^\d{4}-/);
    const listed = await plane.gw.call("GET", "/v1/queues", { key: plane.tenant.key });
    expect(listed.status, listed.body).toBe(200);
    expect(listed.json.items.find((q: { queue: string }) => q.queue === "orders")).toMatchObject({
      queue: "orders",
      broker: null,
      messages: 13,
      triggers: [{ triggerId, function: "orders", lag: 0, paused: false }],
    });
  });

  it("queues - a partial batch failure retries only the failed ids, which come back with deliveries 2", async () => {
    const triggerId = await addQueueTrigger("retry", { queue: "retry", batchSize: 10, batchWindow: "500ms" });
    await sleep(500);
    const res = await publish("retry", {
      messages: [
        { id: "r-1", data: {} },
        { id: "r-2", data: { fail: 1 } },
        { id: "r-3", data: {} },
        { id: "r-4", data: { fail: 1 } },
      ],
    });
    expect(res.status, res.body).toBe(202);
    const list = await waitFor(
      "the retried messages",
      async () => {
        const b = await batches(plane, triggerId);
        return deliveredIds(b).length >= 6 ? b : undefined;
      },
      30_000,
    );
    await sleep(1000);
    const all = await batches(plane, triggerId);
    expect(all).toHaveLength(2);
    expect(all[0]?.seen.map((s) => [s.id, s.deliveries])).toEqual([
      ["r-1", 1],
      ["r-2", 1],
      ["r-3", 1],
      ["r-4", 1],
    ]);
    expect(list[1]?.seen.map((s) => [s.id, s.deliveries])).toEqual([
      ["r-2", 2],
      ["r-4", 2],
    ]);
  });

  it("queues - ordered: each key in publish order, a failed message and its key's later ones after its retry, other keys not held", async () => {
    // Keys interleaved a, b, c, a, b, c, ...; b-2 fails its first delivery.
    const keys = ["a", "b", "c"];
    const messages = [1, 2, 3, 4].flatMap((n) =>
      keys.map((k) => ({ id: `${k}-${n}`, key: k, data: k === "b" && n === 2 ? { n, fail: 1 } : { n } })),
    );
    const res = await publish("ordered", { messages });
    expect(res.status, res.body).toBe(202);
    const triggerId = await addQueueTrigger("ordered", { queue: "ordered", batchSize: 4, ordered: true });
    await waitFor(
      "b-2's retry and every message",
      async () => {
        const seen = (await batches(plane, triggerId)).flatMap((b) => b.seen);
        const retried = seen.some((s) => s.id === "b-2" && s.deliveries === 2);
        return retried && messages.every((m) => seen.some((s) => s.id === m.id)) ? seen : undefined;
      },
      30_000,
    );
    await sleep(1500);
    // Every delivery in the order the function got them (batches run one at a time per trigger).
    const deliveries = (await batches(plane, triggerId)).flatMap((b) => b.seen);
    const last = new Map(deliveries.map((s, at) => [s.id, at]));
    const final = (k: string) =>
      deliveries.filter((s, at) => s.key === k && last.get(s.id) === at).map((s) => s.id);
    // The delivery that counted (each message's last) follows publish order within every key.
    for (const k of keys) expect(final(k)).toEqual([1, 2, 3, 4].map((n) => `${k}-${n}`));
    const times = (id: string) => deliveries.filter((s) => s.id === id).length;
    // Other keys were never held or handed over again.
    for (const m of messages) if (m.key !== "b") expect(times(m.id), m.id).toBe(1);
    expect(times("b-1")).toBe(1);
    const b2 = deliveries.flatMap((s, at) => (s.id === "b-2" ? [{ at, deliveries: s.deliveries }] : []));
    expect(b2.map((d) => d.deliveries)).toEqual([1, 2]);
    const [failedAt, retriedAt] = b2.map((d) => d.at) as [number, number];
    // b's later messages count only after b-2's retry; a and c went on meanwhile (a message
    // published after b-2 was done before b-2 ran again).
    expect(last.get("b-3")).toBeGreaterThan(retriedAt);
    expect(last.get("b-4")).toBeGreaterThan(retriedAt);
    const othersMeanwhile = messages.filter(
      (m, i) =>
        m.key !== "b" && i > messages.findIndex((x) => x.id === "b-2") && (last.get(m.id) ?? 0) < retriedAt,
    );
    expect(othersMeanwhile.length).toBeGreaterThan(0);
    expect(failedAt).toBeLessThan(retriedAt);
    const letters = await plane.gw.call("GET", "/v1/queues/ordered/dead-letters", { key: plane.tenant.key });
    expect(letters.json.items).toEqual([]);
  });

  it("queues - a message past maxDeliveries becomes a dead letter the tenant can list", async () => {
    const triggerId = await addQueueTrigger("poison", { queue: "poison", maxDeliveries: 2 });
    const res = await publish("poison", {
      messages: [
        { id: "p-ok", data: {} },
        { id: "p-bad", data: { fail: 99, why: "poison" }, key: "k1" },
      ],
    });
    expect(res.status, res.body).toBe(202);
    const letters = await waitFor(
      "the dead letter",
      async () => {
        const r = await plane.gw.call("GET", "/v1/queues/poison/dead-letters", { key: plane.tenant.key });
        return r.json.items?.length > 0 ? r.json.items : undefined;
      },
      30_000,
    );
    expect(letters).toEqual([
      expect.objectContaining({
        id: "p-bad",
        key: "k1",
        data: { fail: 99, why: "poison" },
        triggerId,
        deliveries: 2,
        reason: expect.stringContaining("batchItemFailures"),
        broker: null,
      }),
    ]);
    await sleep(1500);
    const seen = deliveredIds(await batches(plane, triggerId));
    expect(seen.filter((id) => id === "p-bad")).toHaveLength(2);
    expect(seen.filter((id) => id === "p-ok")).toHaveLength(1);
    const listed = await plane.gw.call("GET", "/v1/queues", { key: plane.tenant.key });
    expect(listed.json.items.find((q: { queue: string }) => q.queue === "poison").triggers[0].lag).toBe(0);
  });

  it("queues - bad input is 400 FN_006 naming the field", async () => {
    const badName = await publish("Bad_Name", { data: 1 });
    expect(expectError(badName, 400, "FN_006").message).toMatch(/params\.name/);
    const tooMany = await publish("orders", {
      messages: Array.from({ length: 20_000 }, () => ({ data: 1 })),
    });
    expect(expectError(tooMany, 400, "FN_006").message).toMatch(/body\.messages/);
    const noData = await publish("orders", { key: "k" });
    expect(expectError(noData, 400, "FN_006").message).toMatch(/body\.data/);
    const both = await publish("orders", { data: 1, messages: [{ data: 2 }] });
    expect(expectError(both, 400, "FN_006").message).toMatch(/body\.messages/);
    const badId = await publish("orders", { data: 1, id: "has space" });
    expect(expectError(badId, 400, "FN_006").message).toMatch(/body\.id/);
    const big = await publish("orders", { data: "x".repeat(300_000) });
    expect(expectError(big, 413, "FN_010").message).toMatch(/body\.data/);
    const zero = await plane.gw.call("POST", "/v1/functions/orders/triggers", {
      key: plane.tenant.key,
      body: { type: "queue", queue: "orders", batchSize: 0 },
    });
    expect(expectError(zero, 400, "FN_006").message).toMatch(/body\.batchSize/);
  });

  it("queues - another tenant can neither publish to nor list nor read this tenant's queue", async () => {
    const triggerId = await addQueueTrigger("tenant-a", { queue: "shared", batchSize: 10 });
    const b = await plane.gw.tenant();
    const fromB = await publish("shared", { data: { from: "b" }, id: "b-1" }, b.key);
    expect(fromB.status, fromB.body).toBe(202);
    const fromA = await publish("shared", { data: { from: "a" }, id: "a-1" });
    expect(fromA.status, fromA.body).toBe(202);
    const list = await waitFor("A's message", async () => {
      const got = await batches(plane, triggerId);
      return deliveredIds(got).includes("a-1") ? got : undefined;
    });
    await sleep(1000);
    expect(deliveredIds(await batches(plane, triggerId))).toEqual(["a-1"]);
    expect(list[0]?.seen[0]?.data).toEqual({ from: "a" });
    // The same id in two tenants is two messages: dedupe is per tenant and queue.
    expect(fromB.json.messages[0].duplicate).toBe(false);
    expect(fromA.json.messages[0].duplicate).toBe(false);

    const bList = await plane.gw.call("GET", "/v1/queues", { key: b.key });
    expect(bList.status, bList.body).toBe(200);
    expect(bList.json.items).toEqual([{ queue: "shared", broker: null, messages: 1, triggers: [] }]);
    expect(bList.body).not.toContain(triggerId);
    const bLetters = await plane.gw.call("GET", "/v1/queues/poison/dead-letters", { key: b.key });
    expect(bLetters.json.items).toEqual([]);
    const viewer = await plane.gw.key(plane.tenant.name, plane.tenant.key, "viewer");
    expectError(await publish("shared", { data: 1 }, viewer.key), 403, "FN_009");
  });
});
