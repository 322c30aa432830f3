import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { answers, createFunction, deploy, expectError, putAlias } from "./routing-helpers.ts";

/**
 * Weighted aliases through the real gateway (Postgres, NATS, V8 isolates). 10,000 requests take a
 * few seconds via inject on the 2-core machine, so the full count is used.
 */
describe("weighted routing", () => {
  let t: TestGateway;
  let tenant: { name: string; id: string; key: string };
  const fn = "split";

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    tenant = await t.tenant();
    await createFunction(t, tenant.key, fn);
    expect(await deploy(t, tenant.key, fn, answers("one"))).toBe(1);
    expect(await deploy(t, tenant.key, fn, answers("two"))).toBe(2);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("weights - 10,000 requests split 70/30 within 4 standard deviations, and the record says which version served", async () => {
    expect(
      (
        await putAlias(t, tenant.key, fn, "canary", [
          { version: 1, weight: 70 },
          { version: 2, weight: 30 },
        ])
      ).status,
    ).toBe(200);
    const n = 10_000;
    const counts = { one: 0, two: 0 } as Record<string, number>;
    const started = performance.now();
    const batch = 50;
    for (let i = 0; i < n; i += batch) {
      const results = await Promise.all(
        Array.from({ length: batch }, () => t.call("GET", `/fn/${tenant.name}/${fn}@canary/`)),
      );
      for (const res of results) {
        expect(res.status).toBe(200);
        expect(res.headers["kumo-version"]).toBe(res.body === "one" ? "1" : "2");
        counts[res.body] = (counts[res.body] ?? 0) + 1;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const p = 0.3;
    const sd = Math.sqrt(n * p * (1 - p)); // 45.8
    expect((counts.one ?? 0) + (counts.two ?? 0)).toBe(n);
    expect(Math.abs((counts.two ?? 0) - n * p), JSON.stringify({ counts, seconds })).toBeLessThan(4 * sd);
    console.log(`weights: ${JSON.stringify(counts)} of ${n} in ${seconds.toFixed(1)} s`);
    // Every served request is recorded with its version; the records split the same way.
    await t.gateway.flushRecords();
    const rows = await t.gateway.database.db
      .selectFrom("invocations")
      .select(["version"])
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("tenant_id", "=", tenant.id)
      .groupBy("version")
      .execute();
    const byVersion = Object.fromEntries(rows.map((r) => [r.version, Number(r.n)]));
    expect(byVersion).toEqual({ 1: counts.one, 2: counts.two });
  }, 120_000);

  it("weights - a weight of 0 sends nothing to that version", async () => {
    await putAlias(t, tenant.key, fn, "zero", [
      { version: 1, weight: 100 },
      { version: 2, weight: 0 },
    ]);
    for (let i = 0; i < 200; i++)
      expect((await t.call("GET", `/fn/${tenant.name}/${fn}@zero/`)).body).toBe("one");
  });

  it("stickiness - a sticky key (header or cookie) always gets the same version, and keys spread by weight", async () => {
    await putAlias(t, tenant.key, fn, "half", [
      { version: 1, weight: 50 },
      { version: 2, weight: 50 },
    ]);
    const seen = { one: 0, two: 0 } as Record<string, number>;
    for (let user = 0; user < 300; user++) {
      const bodies = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const headers: Record<string, string> =
          i % 2 === 0 ? { "kumo-sticky-key": `user-${user}` } : { cookie: `a=b; kumo-sticky=user-${user}` };
        bodies.add((await t.call("GET", `/fn/${tenant.name}/${fn}@half/`, { headers })).body);
      }
      expect(bodies.size, `user-${user}`).toBe(1);
      const [body] = [...bodies];
      seen[body ?? ""] = (seen[body ?? ""] ?? 0) + 1;
    }
    // 300 keys at 50%: sd 8.7; 4 sd either way.
    expect(Math.abs((seen.one ?? 0) - 150), JSON.stringify(seen)).toBeLessThan(35);
  }, 60_000);

  it("weights - invalid routing is FN_006 and the alias keeps serving as before", async () => {
    for (const routing of [
      [
        { version: 1, weight: 60 },
        { version: 2, weight: 30 },
      ],
      [
        { version: 1, weight: 50 },
        { version: 1, weight: 50 },
      ],
      [{ version: 3, weight: 100 }],
      [
        { version: 1, weight: 110 },
        { version: 2, weight: -10 },
      ],
      [],
    ]) {
      expectError(await putAlias(t, tenant.key, fn, "zero", routing), 400, "FN_006");
    }
    expect((await t.call("GET", `/fn/${tenant.name}/${fn}@zero/`)).body).toBe("one");
  });

  it("addressing - fn@vN serves exactly that version, and live serves the newest", async () => {
    expect((await t.call("GET", `/fn/${tenant.name}/${fn}@v1/`)).body).toBe("one");
    expect((await t.call("GET", `/fn/${tenant.name}/${fn}@v2/`)).body).toBe("two");
    expect((await t.call("GET", `/fn/${tenant.name}/${fn}/`)).body).toBe("two");
    expectError(await t.call("GET", `/fn/${tenant.name}/${fn}@v3/`), 404, "FN_001");
  });

  it("rollback - the very next request after the call is served by the old version, under concurrent load", async () => {
    expect((await t.call("GET", `/fn/${tenant.name}/${fn}/`)).body).toBe("two");
    let stop = false;
    const background = (async () => {
      while (!stop) await t.call("GET", `/fn/${tenant.name}/${fn}/`);
    })();
    const res = await t.call("POST", `/v1/functions/${fn}/rollback`, { key: tenant.key, body: {} });
    expect(res.json).toEqual({ alias: "live", from: 2, to: 1 });
    const next = await t.call("GET", `/fn/${tenant.name}/${fn}/`);
    stop = true;
    await background;
    expect(next.body).toBe("one");
    expect(next.headers["kumo-version"]).toBe("1");
    for (let i = 0; i < 20; i++) expect((await t.call("GET", `/fn/${tenant.name}/${fn}/`)).body).toBe("one");
    const audit = await t.gateway.database.db
      .selectFrom("audit_events")
      .selectAll()
      .where("tenant_id", "=", tenant.id)
      .where("action", "=", "rollback")
      .execute();
    expect(audit.map((a) => a.details)).toEqual([{ from: 2, to: 1 }]);
  });
});
