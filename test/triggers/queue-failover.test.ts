import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep, TriggerPlane, waitFor } from "./trigger-plane.ts";

/**
 * Logs every message it is handed (one line per execution, so a message run twice shows as two
 * lines even if both runs were one invocation record), then takes 2 s: long enough for the test to
 * kill the scheduler while the batch runs.
 */
const SLOW_BATCH = `export default { async fetch(request) {
  const event = await request.json();
  for (const m of event.messages) console.log("msg " + m.id + " " + m.deliveries);
  await new Promise((r) => setTimeout(r, 2000));
  return Response.json({ seen: event.messages.map((m) => ({ id: m.id, deliveries: m.deliveries })), batchItemFailures: [] });
} };`;

const QUEUE_ENV = {
  KUMO_QUEUE_ACK_WAIT: "3s",
  KUMO_QUEUE_RETRY: "200ms",
  KUMO_QUEUE_TRIGGER_RECONCILE: "200ms",
};

let plane: TriggerPlane;

beforeAll(async () => {
  plane = await new TriggerPlane().start();
  await plane.deployEdge("slow", SLOW_BATCH);
}, 180_000);

afterAll(async () => {
  await plane?.close();
}, 60_000);

interface BatchRun {
  id: string;
  status: string;
  startedAt: Date;
  finishedAt: Date | null;
  seen: { id: string; deliveries: number }[];
}

async function batchRuns(triggerId: string): Promise<BatchRun[]> {
  const rows = await plane.gw.gateway.database.db
    .selectFrom("invocations")
    .select(["id", "status", "started_at", "finished_at", "result"])
    .where("tenant_id", "=", plane.tenant.id)
    .where("trigger_id", "=", triggerId)
    .orderBy("started_at")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    seen: r.result
      ? (JSON.parse(Buffer.from(r.result).toString("utf8")) as { seen: BatchRun["seen"] }).seen
      : [],
  }));
}

/** How many times the function ran each message, from its log lines. */
async function executions(invocationIds: string[]): Promise<Map<string, number>> {
  const rows = await plane.gw.gateway.database.db
    .selectFrom("logs")
    .select(["message"])
    .where("tenant_id", "=", plane.tenant.id)
    .where("invocation_id", "in", invocationIds.length > 0 ? invocationIds : ["none"])
    .where("message", "like", "msg %")
    .execute();
  const counts = new Map<string, number>();
  for (const { message } of rows) {
    const id = message.split(" ")[1] ?? "";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe("triggers - queue failover", () => {
  /*
   * What this asserts, and how it fails: the leading scheduler is a real process, killed with
   * SIGKILL while the function runs its first batch (so the batch is published, its messages are
   * unacked, and no one is left to settle it). The in-process scheduler takes the lease; the
   * batch's messages come back after the ack wait, possibly after messages it never saw. Then:
   * every message ran, each exactly once (log lines per message across every invocation), in
   * exactly one succeeded invocation, and the killed batch's messages were never handed to the
   * function again once that batch's outcome (succeeded) was on record. A survivor that ran the
   * returning messages as a new batch (a new round, a new dedupe id) would log them twice; one that
   * lost them would leave them unlogged and the lag above 0.
   */
  it("queue failover - kill -9 of the leader mid-batch with a second scheduler: no message lost, none run twice", async () => {
    const messages = Array.from({ length: 30 }, (_, i) => ({ id: `f-${i}`, data: { n: i } }));
    const res = await plane.gw.call("POST", "/v1/queues/jobs/messages", {
      key: plane.tenant.key,
      body: { messages },
    });
    expect(res.status, res.body).toBe(202);

    // The process leads (it is alone); the in-process scheduler started after it follows.
    const child = await plane.spawnScheduler(QUEUE_ENV);
    const survivor = await plane.startScheduler(QUEUE_ENV);
    await sleep(500);
    expect(survivor.scheduler.isLeader()).toBe(false);

    const created = await plane.gw.call("POST", "/v1/functions/slow/triggers", {
      key: plane.tenant.key,
      body: { type: "queue", queue: "jobs", batchSize: 10 },
    });
    expect(created.status, created.body).toBe(201);
    const triggerId = created.json.id as string;

    // The first batch is running (the autoscaler records "running" once a run passes 200 ms).
    const first = await waitFor("the first batch to run", async () => {
      const runs = await batchRuns(triggerId);
      return runs.find((r) => r.status === "running");
    });
    const killedAt = Date.now();
    child.kill("SIGKILL");
    await waitFor("the survivor to lead", async () => survivor.scheduler.isLeader(), 10_000);

    const ids = messages.map((m) => m.id);
    const runs = await waitFor(
      "every message in a succeeded batch",
      async () => {
        const all = await batchRuns(triggerId);
        const done = new Set(
          all.filter((r) => r.status === "succeeded").flatMap((r) => r.seen.map((s) => s.id)),
        );
        return ids.every((id) => done.has(id)) ? all : undefined;
      },
      60_000,
    );
    // Anything that would run twice (a returning message run as a new batch) has had time to.
    await sleep(4000);
    const settled = await batchRuns(triggerId);
    expect(settled.length).toBe(runs.length);

    // The kill really hit a batch in flight: it ran on after its scheduler died.
    const killed = settled.find((r) => r.id === first.id);
    expect(killed?.status).toBe("succeeded");
    expect(killed?.finishedAt?.getTime() ?? 0).toBeGreaterThan(killedAt);
    expect(killed?.seen).toHaveLength(10);

    const delivered = settled.filter((r) => r.status === "succeeded").flatMap((r) => r.seen.map((s) => s.id));
    expect([...delivered].sort()).toEqual([...ids].sort());
    expect(settled.every((r) => r.status === "succeeded")).toBe(true);
    const counts = await executions(settled.map((r) => r.id));
    expect(Object.fromEntries(ids.map((id) => [id, counts.get(id) ?? 0]))).toEqual(
      Object.fromEntries(ids.map((id) => [id, 1])),
    );

    // Nothing is left behind: the trigger's consumer has no message pending or unacked.
    const state = await waitFor("lag 0", async () => {
      const t = await plane.gw.call("GET", `/v1/functions/slow/triggers/${triggerId}`, {
        key: plane.tenant.key,
      });
      return t.json.state.source?.lag === 0 ? t.json.state : undefined;
    });
    expect(state.source.inflight ?? null).toBeNull();
  }, 120_000);
});
