import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { createEdgeFunction, edgeSource, expectError } from "./api-helpers.ts";

interface Problem {
  field: string;
  message: string;
}

describe("versions and aliases", () => {
  let t: TestGateway;
  let tenant: { name: string; id: string; key: string };
  let invoker: string;
  const fn = "greeter";
  const serve = (address = fn) => t.call("GET", `/fn/${tenant.name}/${address}/`);

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    tenant = await t.tenant();
    invoker = (await t.key(tenant.name, tenant.key, "invoker")).key;
    await createEdgeFunction(t, tenant.key, fn, ["v1", "v2", "v3"]);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("versions - each deploy creates the next version, live points at the newest", async () => {
    const list = await t.call("GET", `/v1/functions/${fn}/versions`, { key: tenant.key });
    expect(list.json.items.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    const got = await t.call("GET", `/v1/functions/${fn}`, { key: tenant.key });
    expect(got.json.liveVersion).toBe(3);
    expect((await serve()).body).toBe("v3");
    const res = await serve();
    expect(res.headers["kumo-version"]).toBe("3");
  });

  it("versions - a version is immutable: later deploys and config changes leave it as it was", async () => {
    const before = await t.call("GET", `/v1/functions/${fn}/versions/1`, { key: tenant.key });
    expect(before.status).toBe(200);
    const patched = await t.call("PATCH", `/v1/functions/${fn}`, {
      key: tenant.key,
      body: { config: { memoryMb: 256 } },
    });
    expect(patched.status, patched.body).toBe(200);
    const dep = await t.call("POST", `/v1/functions/${fn}/deployments`, {
      key: tenant.key,
      body: edgeSource("v4"),
    });
    expect(dep.json.version).toBe(4);
    const after = await t.call("GET", `/v1/functions/${fn}/versions/1`, { key: tenant.key });
    expect(after.json).toEqual(before.json);
    expect(after.json.config.memoryMb).toBe(128);
    expect(
      (await t.call("GET", `/v1/functions/${fn}/versions/4`, { key: tenant.key })).json.config.memoryMb,
    ).toBe(256);
    // Versions cannot be written through the API: there is no route that changes one.
    expectError(
      await t.call("PUT", `/v1/functions/${fn}/versions/1`, { key: tenant.key, body: { config: {} } }),
      404,
      "FN_001",
    );
    expectError(await t.call("DELETE", `/v1/functions/${fn}/versions/1`, { key: tenant.key }), 404, "FN_001");
    expect((await serve(`${fn}@v1`)).body).toBe("v1");
    expectError(await t.call("GET", `/v1/functions/${fn}/versions/99`, { key: tenant.key }), 404, "FN_001");
  });

  it("aliases - fn@vN addresses one version on /fn and on /v1 invoke", async () => {
    for (const n of [1, 2, 3, 4]) {
      const pub = await serve(`${fn}@v${n}`);
      expect(pub.body).toBe(`v${n}`);
      expect(pub.headers["kumo-version"]).toBe(String(n));
      const api = await t.call("POST", `/v1/functions/${fn}@v${n}/invoke`, { key: invoker, body: "" });
      expect(api.status, api.body).toBe(200);
      expect(api.body).toBe(`v${n}`);
    }
    expectError(await serve(`${fn}@v9`), 404, "FN_001");
    expectError(await t.call("POST", `/v1/functions/${fn}@v9/invoke`, { key: invoker }), 404, "FN_001");
    expectError(await serve(`${fn}@nope`), 404, "FN_001");
  });

  it("aliases - an alias routes to its version and weights split traffic", async () => {
    const put = await t.call("PUT", `/v1/functions/${fn}/aliases/stable`, {
      key: tenant.key,
      body: { routing: [{ version: 2, weight: 100 }] },
    });
    expect(put.status, put.body).toBe(200);
    expect(put.json).toMatchObject({ name: "stable", routing: [{ version: 2, weight: 100 }] });
    expect((await serve(`${fn}@stable`)).body).toBe("v2");
    expect((await t.call("POST", `/v1/functions/${fn}@stable/invoke`, { key: invoker })).body).toBe("v2");

    await t.call("PUT", `/v1/functions/${fn}/aliases/split`, {
      key: tenant.key,
      body: {
        routing: [
          { version: 1, weight: 50 },
          { version: 3, weight: 50 },
        ],
      },
    });
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add((await serve(`${fn}@split`)).body);
    expect(seen).toEqual(new Set(["v1", "v3"]));
    // A sticky key pins one caller to one version.
    const sticky = new Set<string>();
    for (let i = 0; i < 10; i++)
      sticky.add(
        (
          await t.call("GET", `/fn/${tenant.name}/${fn}@split/`, {
            headers: { "kumo-sticky-key": "user-42" },
          })
        ).body,
      );
    expect(sticky.size).toBe(1);

    const list = await t.call("GET", `/v1/functions/${fn}/aliases`, { key: tenant.key });
    expect(list.json.items.map((a: { name: string }) => a.name).sort()).toEqual(["live", "split", "stable"]);
    expect((await t.call("DELETE", `/v1/functions/${fn}/aliases/split`, { key: tenant.key })).status).toBe(
      204,
    );
    expectError(await serve(`${fn}@split`), 404, "FN_001");
    expectError(
      await t.call("DELETE", `/v1/functions/${fn}/aliases/live`, { key: tenant.key }),
      400,
      "FN_006",
    );
  });

  it("aliases - invalid routing is FN_006 naming the problem, and nothing changes", async () => {
    const cases: [unknown, RegExp][] = [
      [
        [
          { version: 1, weight: 60 },
          { version: 2, weight: 30 },
        ],
        /sum to 100/,
      ],
      [
        [
          { version: 1, weight: 100 },
          { version: 1, weight: 0 },
        ],
        /only once/,
      ],
      [
        [
          { version: 1, weight: 50 },
          { version: 1, weight: 50 },
        ],
        /only once/,
      ],
      [[{ version: 42, weight: 100 }], /version 42/],
      [[], /routing/],
      [[{ version: 1, weight: 101 }], /routing/],
      [[{ version: 0, weight: 100 }], /routing/],
      [
        [
          { version: 1, weight: -5 },
          { version: 2, weight: 105 },
        ],
        /routing/,
      ],
      [[{ version: "1", weight: 100 }], /routing/],
      [[{ version: 1.5, weight: 100 }], /routing/],
    ];
    const before = await t.call("GET", `/v1/functions/${fn}/aliases`, { key: tenant.key });
    for (const [routing, message] of cases) {
      for (const alias of ["live", "stable", "brand-new"]) {
        const res = await t.call("PUT", `/v1/functions/${fn}/aliases/${alias}`, {
          key: tenant.key,
          body: { routing },
        });
        const err = expectError(res, 400, "FN_006");
        expect(err.message, JSON.stringify(routing)).toMatch(message);
        const problems = (err.details as { problems: Problem[] }).problems;
        expect(problems[0]?.field, JSON.stringify(routing)).toMatch(/routing/);
      }
    }
    expect((await t.call("GET", `/v1/functions/${fn}/aliases`, { key: tenant.key })).json).toEqual(
      before.json,
    );
    expect((await serve()).body).toBe("v4");
  });

  it("aliases - an alias named like a version selector (v2) is refused, since fn@v2 would never reach it", async () => {
    const res = await t.call("PUT", `/v1/functions/${fn}/aliases/v2`, {
      key: tenant.key,
      body: { routing: [{ version: 1, weight: 100 }] },
    });
    const err = expectError(res, 400, "FN_006");
    expect((err.details as { problems: Problem[] }).problems[0]?.field).toBe("params.alias");
  });

  it("rollback - moves live to the previous version and the very next request is served by it", async () => {
    expect((await serve()).body).toBe("v4");
    const res = await t.call("POST", `/v1/functions/${fn}/rollback`, { key: tenant.key, body: {} });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ alias: "live", from: 4, to: 3 });
    expect((await serve()).body).toBe("v3");
    expect((await t.call("POST", `/v1/functions/${fn}/invoke`, { key: invoker })).body).toBe("v3");
    expect((await t.call("GET", `/v1/functions/${fn}`, { key: tenant.key })).json.liveVersion).toBe(3);
    const again = await t.call("POST", `/v1/functions/${fn}/rollback`, { key: tenant.key, body: {} });
    expect(again.status, again.body).toBe(200);
    expect(again.json).toMatchObject({ from: 3, to: 2 });
    expect((await serve()).body).toBe("v2");
  });

  it("rollback - {to} moves live to the given version, unknown versions are refused", async () => {
    const res = await t.call("POST", `/v1/functions/${fn}/rollback`, { key: tenant.key, body: { to: 4 } });
    expect(res.json).toEqual({ alias: "live", from: 2, to: 4 });
    expect((await serve()).body).toBe("v4");
    expect(
      (await t.call("POST", `/v1/functions/${fn}/rollback`, { key: tenant.key, body: { to: 1 } })).json,
    ).toMatchObject({ to: 1 });
    expect((await serve()).body).toBe("v1");
    const missing = expectError(
      await t.call("POST", `/v1/functions/${fn}/rollback`, { key: tenant.key, body: { to: 77 } }),
      400,
      "FN_006",
    );
    expect(missing.message).toMatch(/77/);
    // From version 1 there is nothing older.
    const first = expectError(
      await t.call("POST", `/v1/functions/${fn}/rollback`, { key: tenant.key, body: {} }),
      400,
      "FN_006",
    );
    expect(first.message).toMatch(/first version/);
    expect((await serve()).body).toBe("v1");
    await createEdgeFunction(t, tenant.key, "undeployed");
    expectError(
      await t.call("POST", "/v1/functions/undeployed/rollback", { key: tenant.key, body: {} }),
      400,
      "FN_006",
    );
  });

  it("audit - deploys, alias changes and rollbacks are recorded with their actor", async () => {
    const rows = await t.gateway.database.db
      .selectFrom("audit_events")
      .selectAll()
      .where("tenant_id", "=", tenant.id)
      .where("target", "like", `function/${fn}%`)
      .orderBy("id")
      .execute();
    const actions = rows.map((r) => r.action);
    expect(actions.filter((a) => a === "deploy")).toHaveLength(4);
    expect(actions.filter((a) => a === "rollback")).toHaveLength(4);
    expect(actions).toContain("alias.set");
    expect(actions).toContain("alias.delete");
    const rollbacks = rows.filter((r) => r.action === "rollback").map((r) => r.details);
    expect(rollbacks).toEqual([
      { from: 4, to: 3 },
      { from: 3, to: 2 },
      { from: 2, to: 4 },
      { from: 4, to: 1 },
    ]);
    const adminKeyId = (await t.call("GET", "/v1/whoami", { key: tenant.key })).json.keyId;
    for (const row of rows) expect(row.actor).toBe(adminKeyId);
  });

  it("rollback - a POST without any body (the body is optional) rolls back", async () => {
    expect(
      (await t.call("POST", `/v1/functions/${fn}/rollback`, { key: tenant.key, body: { to: 3 } })).status,
    ).toBe(200);
    const res = await t.call("POST", `/v1/functions/${fn}/rollback`, { key: tenant.key });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ alias: "live", from: 3, to: 2 });
    expect((await serve()).body).toBe("v2");
  });

  it("deploy - a syntax error is 422 FN_005 with the line, and the previous version keeps serving", async () => {
    expect(
      (await t.call("POST", `/v1/functions/${fn}/rollback`, { key: tenant.key, body: { to: 4 } })).status,
    ).toBe(200);
    const broken = "export default {\n  fetch() {\n    return new Response('x'\n  }\n}\n";
    const res = await t.call("POST", `/v1/functions/${fn}/deployments`, {
      key: tenant.key,
      body: { files: { "index.ts": broken } },
    });
    const err = expectError(res, 422, "FN_005");
    expect(err.message).toMatch(/index\.ts:4:\d+/);
    expect(err.details).toMatchObject({ line: 4 });
    expect((await serve()).body).toBe("v4");
    const versions = await t.call("GET", `/v1/functions/${fn}/versions`, { key: tenant.key });
    expect(versions.json.items[0].version).toBe(4);
    // The failed deployment is on record with its error.
    const deployments = await t.call("GET", `/v1/functions/${fn}/deployments`, { key: tenant.key });
    expect(deployments.json.items[0]).toMatchObject({
      status: "failed",
      version: null,
      error: { code: "FN_005" },
    });
    // And the next good deploy is version 5: the failed build used no number.
    const next = await t.call("POST", `/v1/functions/${fn}/deployments`, {
      key: tenant.key,
      body: edgeSource("v5"),
    });
    expect(next.json.version).toBe(5);
    expect((await serve()).body).toBe("v5");
  });
});
