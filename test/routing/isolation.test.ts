import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { answers, createFunction, deploy, expectError } from "./routing-helpers.ts";

/** Tenant B's admin key against tenant A's rollouts, routes and domains: not found, or B's own scope. */
describe("routing isolation", () => {
  let t: TestGateway;
  let a: { name: string; id: string; key: string };
  let b: { name: string; id: string; key: string };
  let rolloutId: string;
  let routeId: string;

  beforeAll(async () => {
    t = await startTestGateway({ edge: true, resolveTxt: async () => [] });
    a = await t.tenant();
    b = await t.tenant();
    await createFunction(t, a.key, "fa");
    await deploy(t, a.key, "fa", answers("a1"));
    await deploy(t, a.key, "fa", answers("a2"));
    await t.call("POST", "/v1/functions/fa/rollback", { key: a.key, body: { to: 1 } });
    const rollout = await t.call("POST", "/v1/functions/fa/rollouts", {
      key: a.key,
      body: { to: 2, steps: [10, 100], interval: "1h" },
    });
    expect(rollout.status, rollout.body).toBe(201);
    rolloutId = rollout.json.id;
    const route = await t.call("POST", "/v1/routes", {
      key: a.key,
      body: { method: "GET", path: "/a/*", function: "fa" },
    });
    routeId = route.json.id;
    expect(
      (await t.call("POST", "/v1/domains", { key: a.key, body: { hostname: "a.example.com" } })).status,
    ).toBe(201);
    expect((await t.call("POST", "/v1/domains/a.example.com/approve", { key: t.adminKey })).status).toBe(200);
    expect(
      (
        await t.call("POST", "/v1/routes", {
          key: a.key,
          body: { method: "GET", path: "/x", function: "fa", host: "a.example.com" },
        })
      ).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("isolation - B gets not found for A's function rollouts, routes and domains", async () => {
    for (const [method, url] of [
      ["GET", "/v1/functions/fa/rollouts"],
      ["POST", "/v1/functions/fa/rollouts"],
      ["GET", `/v1/functions/fa/rollouts/${rolloutId}`],
      ["POST", `/v1/functions/fa/rollouts/${rolloutId}/cancel`],
      ["GET", `/v1/routes/${routeId}`],
      ["DELETE", `/v1/routes/${routeId}`],
      ["GET", "/v1/domains/a.example.com"],
      ["POST", "/v1/domains/a.example.com/verify"],
      ["DELETE", "/v1/domains/a.example.com"],
    ] as const) {
      const body =
        method === "POST" && url.endsWith("rollouts") ? { to: 2, steps: [100], interval: 1000 } : undefined;
      const res = await t.call(method, url, { key: b.key, body });
      expectError(res, 404, "FN_001");
      expect(res.body).not.toContain(a.id);
      expect(res.body).not.toContain(a.name);
    }
    expect((await t.call("GET", "/v1/routes", { key: b.key })).json.items).toEqual([]);
    expect((await t.call("GET", "/v1/domains", { key: b.key })).json.items).toEqual([]);
    // Approving is the platform admin's alone.
    expectError(await t.call("POST", "/v1/domains/a.example.com/approve", { key: b.key }), 403, "FN_009");
    // A's rollout and route are untouched.
    expect((await t.call("GET", `/v1/functions/fa/rollouts/${rolloutId}`, { key: a.key })).json.status).toBe(
      "running",
    );
    expect((await t.call("GET", `/v1/routes/${routeId}`, { key: a.key })).status).toBe(200);
  });

  it("isolation - B's routes never serve A's functions, on /r/, the apps domain or A's domain", async () => {
    await createFunction(t, b.key, "fa");
    await deploy(t, b.key, "fa", answers("b1"));
    expect(
      (
        await t.call("POST", "/v1/routes", {
          key: b.key,
          body: { method: "GET", path: "/a/*", function: "fa" },
        })
      ).status,
    ).toBe(201);
    expect((await t.call("GET", `/r/${b.name}/a/z`)).body).toBe("b1");
    expect((await t.call("GET", `/r/${a.name}/a/z`)).body).toMatch(/^a[12]$/);
    expect((await t.call("GET", "/a/z", { headers: { host: `${b.name}.kumo.localhost` } })).body).toBe("b1");
    expect((await t.call("GET", "/x", { headers: { host: "a.example.com" } })).body).toMatch(/^a[12]$/);
    // A platform admin key is not a tenant key for these routes.
    expectError(await t.call("GET", "/v1/routes", { key: t.adminKey }), 403, "FN_009");
  });
});
