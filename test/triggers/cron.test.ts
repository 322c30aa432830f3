import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError } from "../api/api-helpers.ts";
import { type CronRun, sleep, TriggerPlane, waitFor } from "./trigger-plane.ts";

/** Echoes the cron event and logs its slot once per execution (doubles would show as two lines). */
const ECHO = `export default { async fetch(request) {
  const event = await request.json();
  console.log("slot " + event.scheduledAt);
  return Response.json(event);
} };`;
const SLOW = `export default { async fetch(request) {
  const event = await request.json();
  console.log("slot " + event.scheduledAt);
  await new Promise((r) => setTimeout(r, 2500));
  return Response.json(event);
} };`;

let plane: TriggerPlane;

beforeAll(async () => {
  plane = await new TriggerPlane().start();
  await plane.deployEdge("tick", ECHO);
  await plane.deployEdge("slow", SLOW);
}, 120_000);

afterAll(async () => {
  await plane?.close();
}, 60_000);

async function addTrigger(fn: string, body: Record<string, unknown>): Promise<string> {
  const res = await plane.gw.call("POST", `/v1/functions/${fn}/triggers`, { key: plane.tenant.key, body });
  expect(res.status, res.body).toBe(201);
  return res.json.id as string;
}

async function pause(fn: string, id: string): Promise<void> {
  const res = await plane.gw.call("PATCH", `/v1/functions/${fn}/triggers/${id}`, {
    key: plane.tenant.key,
    body: { paused: true },
  });
  expect(res.status, res.body).toBe(200);
}

/** Runs once nothing of the trigger is queued or running any more. */
async function settled(triggerId: string): Promise<CronRun[]> {
  return waitFor("the runs to finish", async () => {
    const runs = await plane.runs(triggerId);
    return runs.every((r) => r.status === "succeeded" && r.event) ? runs : undefined;
  });
}

const slots = (runs: CronRun[]) => runs.map((r) => Date.parse(r.event?.scheduledAt ?? ""));

describe("triggers - cron", () => {
  it("cron api - an invalid schedule or an unknown zone is 400 FN_006 naming the field; viewers only read", async () => {
    const key = plane.tenant.key;
    const badCron = expectError(
      await plane.gw.call("POST", "/v1/functions/tick/triggers", { key, body: { schedule: "61 * * * *" } }),
      400,
      "FN_006",
    );
    expect(badCron.message).toMatch(/body\.schedule: .*minute/);
    const badZone = expectError(
      await plane.gw.call("POST", "/v1/functions/tick/triggers", {
        key,
        body: { schedule: "0 2 * * *", timezone: "Mars/Olympus" },
      }),
      400,
      "FN_006",
    );
    expect(badZone.message).toMatch(/body\.timezone: .*IANA/);
    expectError(
      await plane.gw.call("POST", "/v1/functions/tick/triggers", {
        key,
        body: { schedule: "* * * * * * *" },
      }),
      400,
      "FN_006",
    );
    const id = await addTrigger("tick", {
      schedule: "30 2 * * *",
      timezone: "America/New_York",
      paused: true,
    });
    const patched = expectError(
      await plane.gw.call("PATCH", `/v1/functions/tick/triggers/${id}`, {
        key,
        body: { timezone: "Nowhere/X" },
      }),
      400,
      "FN_006",
    );
    expect(patched.message).toMatch(/body\.timezone/);
    // The next fire times, in UTC and in the trigger's zone.
    const next = await plane.gw.call("GET", `/v1/functions/tick/triggers/${id}/next?count=3`, { key });
    expect(next.status, next.body).toBe(200);
    expect(next.json.items).toHaveLength(3);
    for (const item of next.json.items) expect(item.local).toMatch(/T0[23]:[03]0:00-0[45]:00$/);
    const viewer = await plane.gw.key(plane.tenant.name, key, "viewer");
    expect((await plane.gw.call("GET", "/v1/functions/tick/triggers", { key: viewer.key })).status).toBe(200);
    expectError(
      await plane.gw.call("POST", "/v1/functions/tick/triggers", {
        key: viewer.key,
        body: { schedule: "@daily" },
      }),
      403,
      "FN_009",
    );
    expectError(
      await plane.gw.call("DELETE", `/v1/functions/tick/triggers/${id}`, { key: viewer.key }),
      403,
      "FN_009",
    );
    expect((await plane.gw.call("DELETE", `/v1/functions/tick/triggers/${id}`, { key })).status).toBe(204);
  });

  it("cron - a 1-second schedule fires the edge function each second, once per slot, records naming the trigger; broken triggers only mark themselves", async () => {
    // Two broken triggers first: a function never deployed, and a zone the database holds but nobody knows.
    const created = await plane.gw.call("POST", "/v1/functions", {
      key: plane.tenant.key,
      body: { name: "empty", runtime: "edge" },
    });
    expect(created.status, created.body).toBe(201);
    const undeployed = await addTrigger("empty", { schedule: "* * * * * *" });
    const badZone = await addTrigger("tick", { schedule: "* * * * * *", paused: true });
    await plane.gw.gateway.database.db
      .updateTable("triggers")
      .set({ timezone: "Mars/Olympus", paused: false })
      .where("id", "=", badZone)
      .execute();

    const scheduler = await plane.startScheduler();
    const id = await addTrigger("tick", { schedule: "*/1 * * * * *", overlap: "allow" });
    await waitFor("five runs", async () => (await plane.runs(id)).length >= 5);
    const state = await plane.gw.call("GET", `/v1/functions/tick/triggers/${id}`, { key: plane.tenant.key });
    await pause("tick", id);
    await scheduler.stop();
    const runs = await settled(id);

    const at = slots(runs);
    expect(new Set(at).size).toBe(runs.length);
    for (const [i, slot] of at.entries()) {
      expect(slot % 1000).toBe(0);
      if (i > 0) expect(slot - (at[i - 1] ?? 0)).toBe(1000);
    }
    for (const [i, run] of runs.entries()) {
      expect(run).toMatchObject({ trigger: "cron", triggerId: id, executions: 1 });
      expect(run.event).toMatchObject({ type: "cron", triggerId: id, manual: false });
      const skew = Date.parse(run.event?.firedAt ?? "") - Date.parse(run.event?.scheduledAt ?? "");
      expect(skew).toBeGreaterThanOrEqual(0);
      expect(skew).toBeLessThan(1000);
      if (i > 0) expect(run.event?.lastScheduledAt).toBe(runs[i - 1]?.event?.scheduledAt);
    }
    // History filters by the trigger, and its state says what happened.
    const history = await plane.gw.call("GET", `/v1/functions/tick/invocations?triggerId=${id}&limit=100`, {
      key: plane.tenant.key,
    });
    expect(history.json.items).toHaveLength(runs.length);
    expect(history.json.items[0]).toMatchObject({ trigger: "cron", triggerId: id });
    expect(state.json).toMatchObject({ type: "cron", source: "api", paused: false });
    expect(state.json.state.lastFiredAt).not.toBeNull();
    expect(state.json.state.nextFireAt).not.toBeNull();

    const broken = async (fn: string, tid: string) =>
      (await plane.gw.call("GET", `/v1/functions/${fn}/triggers/${tid}`, { key: plane.tenant.key })).json
        .state;
    expect(await broken("empty", undeployed)).toMatchObject({
      lastStatus: "error",
      lastError: expect.stringMatching(/FN_001: .*no deployed version/),
    });
    expect((await broken("empty", undeployed)).consecutiveFailures).toBeGreaterThan(0);
    expect(await broken("tick", badZone)).toMatchObject({
      lastStatus: "error",
      lastError: expect.stringMatching(/^timezone: /),
      nextFireAt: null,
    });
    await pause("empty", undeployed);
  });

  it("cron - overlap skip: no new run of a trigger while its previous run is in flight", async () => {
    const scheduler = await plane.startScheduler();
    const id = await addTrigger("slow", { schedule: "* * * * * *" });
    await waitFor("three slow runs", async () => (await plane.runs(id)).length >= 3, 30_000);
    await pause("slow", id);
    await scheduler.stop();
    const runs = await settled(id);
    for (let i = 1; i < runs.length; i++) {
      const previous = runs[i - 1];
      expect(previous?.finishedAt).not.toBeNull();
      expect(runs[i]?.startedAt.getTime()).toBeGreaterThanOrEqual(
        previous?.finishedAt?.getTime() ?? Infinity,
      );
    }
    // Each run takes 2.5 s: with a slot every second, about every third slot ran.
    const span = (slots(runs).at(-1) ?? 0) - (slots(runs)[0] ?? 0);
    expect(span).toBeGreaterThanOrEqual((runs.length - 1) * 2000);
  }, 45_000);

  it("cron - the scheduler on an injected clock across America/New_York's DST changes: the skipped 02:30 runs at 03:00, the repeated 01:30 once", async () => {
    const db = plane.gw.gateway.database.db;
    let clock = Date.parse("2026-03-08T07:00:00.200Z"); // 03:00:00.2 EDT, the night 02:30 does not exist
    const scheduler = await plane.startScheduler({}, () => clock);
    let spring = "";
    let autumn = "";
    try {
      spring = await addTrigger("tick", { schedule: "30 2 * * *", timezone: "America/New_York" });
      autumn = await addTrigger("tick", { schedule: "30 1 * * *", timezone: "America/New_York" });
      // Cursors as the API computes them on 2026-03-07 and 2026-10-31 (their next slots).
      const cursor = async (id: string, at: string) =>
        db
          .updateTable("triggers")
          .set({ next_fire_at: new Date(at) })
          .where("id", "=", id)
          .execute();
      await cursor(spring, "2026-03-08T07:00:00.000Z");
      await cursor(autumn, "2026-11-01T05:30:00.000Z");
      const state = async (id: string) =>
        (await plane.gw.call("GET", `/v1/functions/tick/triggers/${id}`, { key: plane.tenant.key })).json
          .state;
      const done = async (id: string) => {
        const runs = await plane.runs(id);
        return runs.length > 0 && runs.every((r) => r.status === "succeeded");
      };
      await waitFor("the spring slot", () => done(spring));
      expect((await plane.runs(spring))[0]?.event?.scheduledAt).toBe("2026-03-08T07:00:00.000Z");
      expect((await state(spring)).nextFireAt).toBe("2026-03-09T06:30:00.000Z");

      clock = Date.parse("2026-11-01T05:30:00.200Z"); // 01:30:00.2 EDT, first pass of the repeated hour
      await waitFor("the autumn slot", () => done(autumn));
      expect((await plane.runs(autumn)).map((r) => r.event?.scheduledAt)).toEqual([
        "2026-11-01T05:30:00.000Z",
      ]);
      expect((await state(autumn)).nextFireAt).toBe("2026-11-02T06:30:00.000Z");
      clock = Date.parse("2026-11-01T06:30:00.200Z"); // 01:30:00.2 EST, the same wall time again
      await sleep(600);
      expect(await plane.runs(autumn)).toHaveLength(1);
      expect((await plane.runs(spring)).map((r) => r.event?.scheduledAt)).toEqual([
        "2026-03-08T07:00:00.000Z",
      ]);
    } finally {
      if (spring) await pause("tick", spring);
      if (autumn) await pause("tick", autumn);
      await scheduler.stop();
    }
  });

  it("cron - catch-up after the scheduler was down: skip fires no missed slot, once one for them all, all each", async () => {
    const env = { KUMO_SCHEDULER_MISFIRE_GRACE: "500ms" };
    let scheduler = await plane.startScheduler(env);
    const skip = await addTrigger("tick", { schedule: "* * * * * *", overlap: "allow" });
    const once = await addTrigger("tick", { schedule: "* * * * * *", overlap: "allow", catchUp: "once" });
    const all = await addTrigger("tick", { schedule: "* * * * * *", overlap: "allow", catchUp: "all" });
    await waitFor(
      "runs of both",
      async () => (await plane.runs(skip)).length >= 2 && (await plane.runs(once)).length >= 2,
    );
    await scheduler.stop();
    const downAt = Date.now();
    await sleep(4000);
    const upAt = Date.now();
    scheduler = await plane.startScheduler(env);
    await waitFor("runs after the restart", async () => {
      const later = (runs: CronRun[]) => slots(runs).filter((s) => s >= upAt).length >= 2;
      return later(await plane.runs(skip)) && later(await plane.runs(once)) && later(await plane.runs(all));
    });
    await pause("tick", skip);
    await pause("tick", once);
    await pause("tick", all);
    await scheduler.stop();
    // Missed: slots after the last one fired before the stop and before the restart (less the grace).
    const missed = (runs: CronRun[]) => slots(runs).filter((s) => s > downAt && s < upAt - 600);
    expect(missed(await settled(skip))).toEqual([]);
    const caught = missed(await settled(once));
    expect(caught).toHaveLength(1);
    expect(caught[0]).toBeGreaterThan(upAt - 2600);
    // "all": every slot, the missed ones included, once each.
    const every = slots(await settled(all));
    expect(missed(await settled(all)).length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < every.length; i++) expect((every[i] ?? 0) - (every[i - 1] ?? 0)).toBe(1000);
  }, 45_000);

  it("cron - two schedulers, the leader's connection cut: the other takes over, no slot doubled, none lost", async () => {
    const first = await plane.startScheduler();
    const second = await plane.startScheduler();
    const id = await addTrigger("tick", { schedule: "* * * * * *", overlap: "allow" });
    await waitFor("three runs", async () => (await plane.runs(id)).length >= 3);
    const leader = [first, second].find((s) => s.scheduler.isLeader());
    const follower = [first, second].find((s) => s !== leader);
    expect(leader && follower).toBeTruthy();
    const cutAt = Date.now();
    await leader?.cut();
    await waitFor("the follower to lead", async () => follower?.scheduler.isLeader(), 10_000);
    await waitFor("runs after the takeover", async () =>
      slots(await plane.runs(id)).some((s) => s > cutAt + 4000),
    );
    await pause("tick", id);
    await follower?.stop();
    await leader?.stop();
    const runs = await settled(id);
    const at = slots(runs);
    expect(runs.every((r) => r.executions === 1)).toBe(true);
    expect(new Set(at).size).toBe(runs.length);
    for (let i = 1; i < at.length; i++) expect((at[i] ?? 0) - (at[i - 1] ?? 0)).toBe(1000);
    expect(at.some((s) => s > cutAt && s < cutAt + 2000)).toBe(true);
  }, 45_000);

  it("cron - kill -9 of the leading scheduler process with another running: no slot lost, none doubled", async () => {
    // The process leads (it is alone); the in-process scheduler started after it follows.
    const child = await plane.spawnScheduler();
    const id = await addTrigger("tick", { schedule: "* * * * * *", overlap: "allow" });
    await waitFor("runs from the process", async () => (await plane.runs(id)).length >= 3);
    const survivor = await plane.startScheduler();
    await sleep(500);
    expect(survivor.scheduler.isLeader()).toBe(false);
    const killedAt = Date.now();
    child.kill("SIGKILL");
    await waitFor("the survivor to lead", async () => survivor.scheduler.isLeader(), 10_000);
    expect(Date.now() - killedAt).toBeLessThan(4000);
    await waitFor("runs after the takeover", async () =>
      slots(await plane.runs(id)).some((s) => s > killedAt + 3000),
    );
    await pause("tick", id);
    await survivor.stop();
    const runs = await settled(id);
    const at = slots(runs);
    expect(runs.every((r) => r.executions === 1)).toBe(true);
    expect(new Set(at).size).toBe(runs.length);
    for (let i = 1; i < at.length; i++) expect((at[i] ?? 0) - (at[i - 1] ?? 0)).toBe(1000);
    expect(at.some((s) => s > killedAt && s < killedAt + 2000)).toBe(true);
  }, 60_000);

  it("cron - manual fire: the same event marked manual, recorded as the trigger's last run", async () => {
    const id = await addTrigger("tick", { schedule: "0 2 * * *", timezone: "Europe/Berlin" });
    const fired = await plane.gw.call("POST", `/v1/functions/tick/triggers/${id}/fire`, {
      key: plane.tenant.key,
    });
    expect(fired.status, fired.body).toBe(202);
    const runs = await waitFor("the manual run", async () => {
      const r = await plane.runs(id);
      // Its log line may land in a later write than its record.
      return r.length === 1 && r[0]?.status === "succeeded" && r[0].executions > 0 ? r : undefined;
    });
    expect(runs[0]).toMatchObject({
      id: fired.json.invocationId,
      trigger: "cron",
      triggerId: id,
      executions: 1,
    });
    expect(runs[0]?.event).toMatchObject({
      type: "cron",
      triggerId: id,
      manual: true,
      lastScheduledAt: null,
    });
    const state = await plane.gw.call("GET", `/v1/functions/tick/triggers/${id}`, { key: plane.tenant.key });
    expect(state.json.state).toMatchObject({ lastInvocationId: fired.json.invocationId });
    expect(state.json.state.lastScheduledAt).toBeNull();
  });

  it("cron - kumo.json triggers are applied on deploy: unchanged ones keep their id, removed ones go", async () => {
    const key = plane.tenant.key;
    const nightly = { type: "cron", schedule: "0 2 * * *", timezone: "Europe/Berlin" };
    const deploy = (triggers: unknown[]) =>
      plane.gw.call("POST", "/v1/functions/nightly/deployments", {
        key,
        body: { files: { "index.ts": ECHO }, config: { triggers } },
      });
    expect(
      (await plane.gw.call("POST", "/v1/functions", { key, body: { name: "nightly", runtime: "edge" } }))
        .status,
    ).toBe(201);
    expect((await deploy([nightly])).json.status).toBe("succeeded");
    const first = (await plane.gw.call("GET", "/v1/functions/nightly/triggers", { key })).json.items;
    expect(first).toMatchObject([
      { source: "config", schedule: "0 2 * * *", timezone: "Europe/Berlin", target: "live" },
    ]);
    expect((await deploy([nightly, { type: "cron", schedule: "@hourly" }])).json.status).toBe("succeeded");
    const second = (await plane.gw.call("GET", "/v1/functions/nightly/triggers", { key })).json.items;
    expect(second.map((t: { id: string }) => t.id)).toContain(first[0].id);
    expect(second).toHaveLength(2);
    const refused = expectError(
      await plane.gw.call("DELETE", `/v1/functions/nightly/triggers/${first[0].id}`, { key }),
      409,
      "FN_006",
    );
    expect(refused.message).toMatch(/kumo\.json/);
    const bad = await deploy([{ type: "cron", schedule: "0 2 * * *", timezone: "Berlin" }]);
    expect(bad.status, bad.body).toBe(400);
    expect(bad.body).toMatch(/timezone/);
    expect((await deploy([])).json.status).toBe("succeeded");
    expect((await plane.gw.call("GET", "/v1/functions/nightly/triggers", { key })).json.items).toEqual([]);
  });
});
