import amqp, { type Channel, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATCH_ECHO, batches } from "./queue-batches.ts";
import { sleep, TriggerPlane, waitFor } from "./trigger-plane.ts";

/** The machine's RabbitMQ (provisioned for tests: scripts/provision/rabbitmq.mjs). */
const RABBITMQ_URL = process.env.KUMO_TEST_RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";

let plane: TriggerPlane;
let connection: ChannelModel;
let channel: Channel;
const queue = `kumo-test-${Math.random().toString(36).slice(2, 10)}`;
const quorumQueue = `${queue}-quorum`;

beforeAll(async () => {
  plane = await new TriggerPlane().start();
  connection = await amqp.connect(RABBITMQ_URL);
  channel = await connection.createChannel();
  await channel.assertQueue(queue, { durable: false, autoDelete: false });
  for (const name of ["rabbit", "broken", "missing", "local", "quorum"])
    await plane.deployEdge(name, BATCH_ECHO);
  for (const [name, value] of [
    ["RABBIT_URL", RABBITMQ_URL],
    // Nothing listens on port 1 of loopback: the connection is refused at once.
    ["DEAD_RABBIT_URL", "amqp://guest:guest@127.0.0.1:1"],
  ]) {
    const put = await plane.gw.call("PUT", `/v1/secrets/${name}`, { key: plane.tenant.key, body: { value } });
    expect(put.status, put.body).toBe(200);
  }
  await plane.startScheduler({
    KUMO_QUEUE_RETRY: "200ms",
    KUMO_QUEUE_TRIGGER_RECONCILE: "200ms",
    KUMO_MASTER_KEY: plane.masterKey,
  });
}, 180_000);

afterAll(async () => {
  await plane?.close();
  await channel?.deleteQueue(queue).catch(() => undefined);
  await channel?.deleteQueue(quorumQueue).catch(() => undefined);
  await connection?.close().catch(() => undefined);
}, 60_000);

async function addTrigger(fn: string, body: Record<string, unknown>): Promise<string> {
  const res = await plane.gw.call("POST", `/v1/functions/${fn}/triggers`, {
    key: plane.tenant.key,
    body: { type: "queue", ...body },
  });
  expect(res.status, res.body).toBe(201);
  return res.json.id as string;
}

describe("triggers - RabbitMQ", () => {
  it("rabbitmq - a batch arrives, and only the failed message comes back, with deliveries 2", async () => {
    for (let i = 1; i <= 4; i++) {
      channel.sendToQueue(queue, Buffer.from(JSON.stringify({ n: i, ...(i === 3 ? { fail: 1 } : {}) })), {
        messageId: `rb-${i}`,
        contentType: "application/json",
        headers: { "kumo-key": "k" },
      });
    }
    const triggerId = await addTrigger("rabbit", {
      queue,
      batchSize: 4,
      batchWindow: "1s",
      broker: { kind: "rabbitmq", urlSecret: "RABBIT_URL" },
    });
    const list = await waitFor(
      "the batch and the retry",
      async () => {
        const b = await batches(plane, triggerId);
        return b.length >= 2 ? b : undefined;
      },
      30_000,
    );
    await sleep(1000);
    expect(await batches(plane, triggerId)).toHaveLength(2);
    expect(list[0]?.seen.map((s) => [s.id, s.deliveries])).toEqual([
      ["rb-1", 1],
      ["rb-2", 1],
      ["rb-3", 1],
      ["rb-4", 1],
    ]);
    expect(list[0]?.seen[0]).toMatchObject({ key: "k", data: { n: 1 } });
    expect(list[1]?.seen.map((s) => [s.id, s.deliveries])).toEqual([["rb-3", 2]]);
    const check = await channel.checkQueue(queue);
    expect(check.messageCount).toBe(0);
    const listed = await plane.gw.call("GET", "/v1/queues", { key: plane.tenant.key });
    expect(listed.json.items).toContainEqual(
      expect.objectContaining({
        queue,
        broker: "rabbitmq",
        triggers: [expect.objectContaining({ triggerId })],
      }),
    );
  });

  it("rabbitmq - quorum queue: the broker's x-delivery-count counts deliveries; only failed messages come back", async () => {
    await channel.assertQueue(quorumQueue, { durable: true, arguments: { "x-queue-type": "quorum" } });
    const send = (id: string, body: Record<string, unknown>) =>
      channel.sendToQueue(quorumQueue, Buffer.from(JSON.stringify(body)), {
        messageId: id,
        contentType: "application/json",
      });
    // q-4 was handed to a consumer that gave it back unfinished (as a crashed scheduler would):
    // the broker counted that delivery, so it reaches the function as its second.
    send("q-4", { n: 4 });
    const taken = await waitFor(
      "q-4 from the broker",
      async () => (await channel.get(quorumQueue)) || undefined,
    );
    channel.nack(taken, false, true);
    send("q-1", { n: 1 });
    send("q-2", { n: 2, fail: 1 });
    send("q-3", { n: 3, fail: 2 });
    const triggerId = await addTrigger("quorum", {
      queue: quorumQueue,
      batchSize: 4,
      batchWindow: "1s",
      broker: { kind: "rabbitmq", urlSecret: "RABBIT_URL" },
    });
    const byId = (list: Awaited<ReturnType<typeof batches>>) => {
      const out: Record<string, number[]> = {};
      for (const s of list.flatMap((b) => b.seen)) out[s.id] = [...(out[s.id] ?? []), s.deliveries];
      return out;
    };
    await waitFor(
      "q-3's third delivery",
      async () => (byId(await batches(plane, triggerId))["q-3"]?.length ?? 0) >= 3,
      30_000,
    );
    await sleep(1500);
    // A classic-queue style republish would restart the broker's count at 0: q-2 and q-3 would
    // come back as first deliveries again, forever.
    expect(byId(await batches(plane, triggerId))).toEqual({
      "q-1": [1],
      "q-2": [1, 2],
      "q-3": [1, 2, 3],
      "q-4": [2],
    });
    const check = await channel.checkQueue(quorumQueue);
    expect(check.messageCount).toBe(0);
  });

  it("rabbitmq - an unreachable broker or a missing secret is the trigger's error; other triggers go on", async () => {
    const broken = await addTrigger("broken", {
      queue: "orders",
      broker: { kind: "rabbitmq", urlSecret: "DEAD_RABBIT_URL" },
    });
    const missing = await addTrigger("missing", {
      queue: "orders",
      broker: { kind: "rabbitmq", urlSecret: "NO_SUCH_SECRET" },
    });
    const local = await addTrigger("local", { queue: "after-break" });
    const state = async (fn: string, id: string) =>
      (await plane.gw.call("GET", `/v1/functions/${fn}/triggers/${id}`, { key: plane.tenant.key })).json;
    const brokenState = await waitFor("the broken trigger's error", async () => {
      const t = await state("broken", broken);
      return t.state.lastStatus === "error" ? t : undefined;
    });
    expect(brokenState.state.lastError).toMatch(
      /cannot connect to RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1/,
    );
    expect(brokenState.state.lastError).not.toContain("guest:guest");
    expect(brokenState.state.source.error).toBe(brokenState.state.lastError);
    const missingState = await waitFor("the missing secret's error", async () => {
      const t = await state("missing", missing);
      return t.state.lastStatus === "error" ? t : undefined;
    });
    expect(missingState.state.lastError).toMatch(/NO_SUCH_SECRET does not exist/);

    const res = await plane.gw.call("POST", "/v1/queues/after-break/messages", {
      key: plane.tenant.key,
      body: { data: { still: "working" }, id: "ab-1" },
    });
    expect(res.status, res.body).toBe(202);
    const got = await waitFor("the healthy trigger's batch", async () => {
      const b = await batches(plane, local);
      return b.length > 0 ? b : undefined;
    });
    expect(got[0]?.seen[0]).toMatchObject({ id: "ab-1", data: { still: "working" } });
    // It keeps retrying (with backoff) and stays in error while the broker stays away.
    await sleep(1500);
    expect((await state("broken", broken)).state.lastStatus).toBe("error");
    expect(plane.schedulers[0]?.scheduler.isLeader()).toBe(true);
  });
});
