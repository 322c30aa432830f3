import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { answers, createFunction, deploy, expectError, failsPercent, sleep } from "./routing-helpers.ts";

/** Gradual rollouts driven by the gateway's RolloutDriver on a 50 ms tick. */
describe("rollouts", () => {
  let t: TestGateway;
  let tenant: { name: string; id: string; key: string };

  beforeAll(async () => {
    t = await startTestGateway({ edge: true, env: { KUMO_ROLLOUT_TICK: "50ms" } });
    tenant = await t.tenant();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Sends requests until the rollout leaves "running" (or the deadline passes); returns it. */
  async function driveUntilDone(fn: string, id: string, deadlineMs = 30_000) {
    const until = Date.now() + deadlineMs;
    const weights: number[] = [];
    while (Date.now() < until) {
      await Promise.all(Array.from({ length: 10 }, () => t.call("GET", `/fn/${tenant.name}/${fn}/`)));
      const got = await t.call("GET", `/v1/functions/${fn}/rollouts/${id}`, { key: tenant.key });
      if (weights.at(-1) !== got.json.weight) weights.push(got.json.weight);
      if (got.json.status !== "running") return { rollout: got.json, weights };
    }
    throw new Error(`rollout ${id} still running after ${deadlineMs} ms`);
  }

  it("rollouts - a healthy version goes 10 -> 50 -> 100 and the alias ends on it", async () => {
    await createFunction(t, tenant.key, "good");
    await deploy(t, tenant.key, "good", answers("old"));
    await deploy(t, tenant.key, "good", answers("new"));
    await t.call("POST", "/v1/functions/good/rollback", { key: tenant.key, body: { to: 1 } });
    const res = await t.call("POST", "/v1/functions/good/rollouts", {
      key: tenant.key,
      body: { to: 2, steps: [10, 50, 100], interval: "300ms", minRequests: 5 },
    });
    expect(res.status, res.body).toBe(201);
    expect(res.json).toMatchObject({
      alias: "live",
      from: 1,
      to: 2,
      status: "running",
      weight: 10,
      intervalMs: 300,
      maxErrorRate: 0.05,
      minRequests: 5,
    });
    const aliases = await t.call("GET", "/v1/functions/good/aliases", { key: tenant.key });
    expect(aliases.json.items.find((a: { name: string }) => a.name === "live").routing).toEqual([
      { version: 1, weight: 90 },
      { version: 2, weight: 10 },
    ]);
    // A second rollout on the same alias is refused while this one runs.
    expectError(
      await t.call("POST", "/v1/functions/good/rollouts", {
        key: tenant.key,
        body: { to: 2, steps: [100], interval: 1000 },
      }),
      409,
      "FN_006",
    );

    const { rollout, weights } = await driveUntilDone("good", res.json.id);
    expect(rollout).toMatchObject({ status: "completed", stepIndex: 2, weight: 100, lastErrorRate: 0 });
    expect(weights).toEqual([10, 50, 100]);
    for (let i = 0; i < 20; i++) expect((await t.call("GET", `/fn/${tenant.name}/good/`)).body).toBe("new");
    const actions = (
      await t.gateway.database.db
        .selectFrom("audit_events")
        .select("action")
        .where("tenant_id", "=", tenant.id)
        .where("target", "=", "function/good@live")
        .orderBy("id")
        .execute()
    ).map((r) => r.action);
    expect(actions).toEqual(["rollout.start", "rollout.step", "rollout.complete"]);
    const list = await t.call("GET", "/v1/functions/good/rollouts", { key: tenant.key });
    expect(list.json.items.map((r: { id: string }) => r.id)).toEqual([res.json.id]);
  }, 60_000);

  it("rollouts - a version failing 30% of requests is rolled back: live serves the old version, with an audit event", async () => {
    await createFunction(t, tenant.key, "bad");
    await deploy(t, tenant.key, "bad", answers("stable"));
    await deploy(t, tenant.key, "bad", failsPercent("broken", 30));
    await t.call("POST", "/v1/functions/bad/rollback", { key: tenant.key, body: { to: 1 } });
    const res = await t.call("POST", "/v1/functions/bad/rollouts", {
      key: tenant.key,
      body: { to: 2, steps: [50, 100], interval: 200, maxErrorRate: 0.1, minRequests: 20 },
    });
    expect(res.status, res.body).toBe(201);
    const { rollout, weights } = await driveUntilDone("bad", res.json.id);
    expect(rollout.status).toBe("rolled_back");
    expect(weights).toEqual([50]);
    expect(rollout.lastErrorRate).toBeGreaterThan(0.1);
    expect(rollout.lastErrorRate).toBeLessThan(0.5);
    expect(rollout.lastRequests).toBeGreaterThanOrEqual(20);
    expect(rollout.reason).toMatch(/error rate/);
    for (let i = 0; i < 30; i++) {
      const served = await t.call("GET", `/fn/${tenant.name}/bad/`);
      expect(served.body).toBe("stable");
      expect(served.headers["kumo-version"]).toBe("1");
    }
    const events = await t.gateway.database.db
      .selectFrom("audit_events")
      .selectAll()
      .where("tenant_id", "=", tenant.id)
      .where("action", "=", "rollout.rollback")
      .execute();
    expect(events).toHaveLength(1);
    const details = events[0]?.details as { errorRate: number } | undefined;
    expect(details).toMatchObject({ rollout: res.json.id, from: 1, to: 2, maxErrorRate: 0.1 });
    expect(details?.errorRate).toBe(rollout.lastErrorRate);
  }, 60_000);

  it("rollouts - without enough traffic a step waits; cancel restores the old version", async () => {
    await createFunction(t, tenant.key, "idle");
    await deploy(t, tenant.key, "idle", answers("a"));
    await deploy(t, tenant.key, "idle", answers("b"));
    await t.call("POST", "/v1/functions/idle/rollback", { key: tenant.key, body: { to: 1 } });
    const res = await t.call("POST", "/v1/functions/idle/rollouts", {
      key: tenant.key,
      body: { to: 2, steps: [20, 100], interval: 100, minRequests: 1000 },
    });
    expect(res.status, res.body).toBe(201);
    await sleep(600);
    const got = await t.call("GET", `/v1/functions/idle/rollouts/${res.json.id}`, { key: tenant.key });
    expect(got.json).toMatchObject({ status: "running", weight: 20 });
    const cancelled = await t.call("POST", `/v1/functions/idle/rollouts/${res.json.id}/cancel`, {
      key: tenant.key,
    });
    expect(cancelled.json).toMatchObject({ status: "cancelled" });
    expect(
      (await t.call("GET", "/v1/functions/idle/aliases", { key: tenant.key })).json.items[0].routing,
    ).toEqual([{ version: 1, weight: 100 }]);
    expectError(
      await t.call("POST", `/v1/functions/idle/rollouts/${res.json.id}/cancel`, { key: tenant.key }),
      409,
      "FN_006",
    );
    expectError(
      await t.call("GET", "/v1/functions/idle/rollouts/rol_nope", { key: tenant.key }),
      404,
      "FN_001",
    );
  });

  it("rollouts - a deploy or a manual alias change supersedes a running rollout", async () => {
    const res = await t.call("POST", "/v1/functions/idle/rollouts", {
      key: tenant.key,
      body: { to: 2, steps: [20, 100], interval: "1h" },
    });
    expect(res.status, res.body).toBe(201);
    await t.call("POST", "/v1/functions/idle/rollback", { key: tenant.key, body: { to: 1 } });
    const got = await t.call("GET", `/v1/functions/idle/rollouts/${res.json.id}`, { key: tenant.key });
    expect(got.json).toMatchObject({ status: "cancelled", reason: "superseded by a rollback" });
    expect((await t.call("GET", `/fn/${tenant.name}/idle/`)).body).toBe("a");
  });

  it("rollouts - invalid requests are FN_006 saying what to fix", async () => {
    const cases: [unknown, RegExp][] = [
      [{ to: 2, steps: [50, 10, 100], interval: 100 }, /increase/],
      [{ to: 2, steps: [10, 50], interval: 100 }, /last step must be 100/],
      [{ to: 2, steps: [10, 100], interval: "soon" }, /duration/],
      [{ to: 2, steps: [10, 100], interval: 100, maxErrorRate: 5 }, /maxErrorRate/],
      [{ to: 9, steps: [100], interval: 100 }, /version 9/],
      [{ to: 1, steps: [100], interval: 100 }, /already serves/],
      [{ to: 2, steps: [100], interval: 100, alias: "nope" }, /does not exist/],
    ];
    for (const [body, message] of cases) {
      const err = expectError(
        await t.call("POST", "/v1/functions/idle/rollouts", { key: tenant.key, body }),
        400,
        "FN_006",
      );
      expect(err.message, JSON.stringify(body)).toMatch(message);
    }
  });
});

describe("rollout claims", () => {
  it("rollout claims - concurrent drivers each claim a due rollout at most once, and together all of them", async () => {
    // A gateway whose own driver sleeps, so only the claims below touch the rollouts.
    const g = await startTestGateway({ env: { KUMO_ROLLOUT_TICK: "1h" } });
    try {
      const tenant = await g.tenant();
      await createFunction(g, tenant.key, "race");
      const fn = await g.gateway.context.platform.tenant(tenant.id).functions.byName("race");
      const past = new Date(Date.now() - 1000);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const row = await g.gateway.context.platform.tenant(tenant.id).rollouts.create(
          {
            functionId: fn?.id ?? "",
            alias: `a${i}`,
            fromVersion: 1,
            toVersion: 2,
            steps: [10, 100],
            intervalMs: 1000,
            maxErrorRate: 0.05,
            minRequests: 0,
            createdBy: null,
          },
          past,
        );
        ids.push(row.id);
      }
      await g.gateway.database.db.updateTable("rollouts").set({ next_step_at: past }).execute();
      const platform = g.gateway.context.platform;
      const claims = await Promise.all(Array.from({ length: 6 }, () => platform.claimDueRollouts(5, 60_000)));
      const claimed = claims.flat().map((r) => r.id);
      expect(new Set(claimed).size).toBe(claimed.length);
      const again = await platform.claimDueRollouts(100, 60_000);
      expect([...claimed, ...again.map((r) => r.id)].sort()).toEqual(ids.sort());
      // Claimed rollouts are leased: nothing is due any more.
      expect(await platform.claimDueRollouts(100, 60_000)).toEqual([]);
    } finally {
      await g.close();
    }
  });
});
