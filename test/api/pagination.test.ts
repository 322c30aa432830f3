import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { allPages, createEdgeFunction, expectError } from "./api-helpers.ts";

/** Checks the page shapes: full pages of `limit`, the last one shorter or equal, nextCursor null only at the end. */
function expectPageSizes(pages: unknown[][], total: number, limit: number): void {
  expect(pages.length).toBe(Math.max(1, Math.ceil(total / limit)));
  for (const page of pages.slice(0, -1)) expect(page).toHaveLength(limit);
  expect(pages.at(-1)?.length).toBe(total - limit * (pages.length - 1));
}

describe("pagination", () => {
  let t: TestGateway;
  let tenant: { name: string; id: string; key: string };

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    tenant = await t.tenant();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("pagination - functions: 23 in pages of 5, each once, sorted by name", async () => {
    const names = Array.from({ length: 23 }, (_, i) => `fn-${String(i).padStart(2, "0")}`);
    // Created out of order, so sorting is the API's doing.
    for (const name of [...names].reverse()) {
      expect(
        (await t.call("POST", "/v1/functions", { key: tenant.key, body: { name, runtime: "edge" } })).status,
      ).toBe(201);
    }
    const { pages, items } = await allPages<{ name: string }>(t, tenant.key, "/v1/functions", 5);
    expectPageSizes(pages, 23, 5);
    expect(items.map((f) => f.name)).toEqual(names);
  });

  it("pagination - api keys: every key once, in creation order", async () => {
    const created = [];
    for (let i = 0; i < 22; i++) created.push((await t.key(tenant.name, tenant.key, "viewer")).id);
    const { pages, items } = await allPages<{ id: string; createdAt: string }>(
      t,
      tenant.key,
      `/v1/tenants/${tenant.name}/api-keys`,
      5,
    );
    // 22 issued here plus the tenant's first admin key.
    const ids = items.map((k) => k.id);
    expect(new Set(ids).size, "a key appears on two pages").toBe(ids.length);
    expect(ids).toHaveLength(23);
    expectPageSizes(pages, 23, 5);
    expect(ids.slice(1)).toEqual(created);
  });

  it("pagination - secrets: every secret once, sorted by name", async () => {
    const names = Array.from({ length: 23 }, (_, i) => `S_${String(i).padStart(2, "0")}`);
    for (const name of [...names].reverse()) {
      expect(
        (await t.call("PUT", `/v1/secrets/${name}`, { key: tenant.key, body: { value: `v-${name}` } }))
          .status,
      ).toBe(200);
    }
    // A rotated secret is still one item.
    expect(
      (await t.call("PUT", "/v1/secrets/S_03", { key: tenant.key, body: { value: "again" } })).json.version,
    ).toBe(2);
    const { pages, items } = await allPages<{ name: string; version: number }>(
      t,
      tenant.key,
      "/v1/secrets",
      5,
    );
    expectPageSizes(pages, 23, 5);
    expect(items.map((s) => s.name)).toEqual(names);
    expect(items.find((s) => s.name === "S_03")?.version).toBe(2);
  });

  it("pagination - versions and deployments: 7 deploys, newest first, each once", async () => {
    await createEdgeFunction(t, tenant.key, "many", ["1", "2", "3", "4", "5", "6", "7"]);
    const versions = await allPages<{ version: number }>(t, tenant.key, "/v1/functions/many/versions", 3);
    expectPageSizes(versions.pages, 7, 3);
    expect(versions.items.map((v) => v.version)).toEqual([7, 6, 5, 4, 3, 2, 1]);

    const deployments = await allPages<{ id: string; version: number }>(
      t,
      tenant.key,
      "/v1/functions/many/deployments",
      3,
    );
    expectPageSizes(deployments.pages, 7, 3);
    expect(deployments.items.map((d) => d.version)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    expect(new Set(deployments.items.map((d) => d.id)).size).toBe(7);
  });

  it("pagination - invocations: 12 invocations, newest first, each once", async () => {
    await createEdgeFunction(t, tenant.key, "counted", ["counted"]);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await t.call("POST", "/v1/functions/counted/invoke", { key: tenant.key, body: String(i) });
      expect(res.status, res.body).toBe(200);
      ids.push(String(res.headers["kumo-invocation-id"]));
    }
    await t.gateway.flushRecords();
    const { pages, items } = await allPages<{ id: string; startedAt: string }>(
      t,
      tenant.key,
      "/v1/functions/counted/invocations",
      5,
    );
    expectPageSizes(pages, 12, 5);
    expect(new Set(items.map((i) => i.id))).toEqual(new Set(ids));
    const times = items.map((i) => Date.parse(i.startedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it("pagination - logs: every line once, newest first (oldest first with order=asc)", async () => {
    const dep = await t.call("POST", "/v1/functions/counted/deployments", {
      key: tenant.key,
      body: {
        files: {
          "index.ts":
            "export default { async fetch(req: Request) { console.log('line ' + (await req.text())); return new Response('ok') } }",
        },
      },
    });
    expect(dep.status, dep.body).toBe(202);
    for (let i = 0; i < 8; i++)
      expect(
        (await t.call("POST", "/v1/functions/counted/invoke", { key: tenant.key, body: String(i) })).status,
      ).toBe(200);
    await t.gateway.flushRecords();
    const lines = Array.from({ length: 8 }, (_, i) => `line ${i}`);
    const { items } = await allPages<{ message: string }>(t, tenant.key, "/v1/functions/counted/logs", 3);
    expect(items.map((l) => l.message)).toEqual([...lines].reverse());
    const asc = await allPages<{ message: string }>(t, tenant.key, "/v1/functions/counted/logs?order=asc", 3);
    expect(asc.items.map((l) => l.message)).toEqual(lines);
  });

  it("pagination - a list shorter than the limit is one page with nextCursor null", async () => {
    const res = await t.call("GET", "/v1/functions?limit=500", { key: tenant.key });
    expect(res.json.items).toHaveLength(25);
    expect(res.json.nextCursor).toBeNull();
    // The default page size is 50.
    expect((await t.call("GET", "/v1/functions", { key: tenant.key })).json.items).toHaveLength(25);
  });

  it("pagination - limit out of bounds or not a number is FN_006 naming limit", async () => {
    for (const limit of ["0", "501", "abc", "-1", "2.5"]) {
      for (const path of [
        "/v1/functions",
        "/v1/secrets",
        `/v1/tenants/${tenant.name}/api-keys`,
        "/v1/functions/many/versions",
        "/v1/functions/many/deployments",
        "/v1/functions/counted/invocations",
      ]) {
        const err = expectError(
          await t.call("GET", `${path}?limit=${limit}`, { key: tenant.key }),
          400,
          "FN_006",
        );
        expect(
          (err.details as { problems: { field: string }[] }).problems[0]?.field,
          `${path}?limit=${limit}`,
        ).toBe("querystring.limit");
      }
    }
    expect((await t.call("GET", "/v1/functions?limit=1", { key: tenant.key })).json.items).toHaveLength(1);
    expect((await t.call("GET", "/v1/functions?limit=500", { key: tenant.key })).status).toBe(200);
  });

  it("pagination - a cursor stays valid while items are added before it", async () => {
    const all = (await t.call("GET", "/v1/functions?limit=500", { key: tenant.key })).json.items.map(
      (f: { name: string }) => f.name,
    );
    const first = await t.call("GET", "/v1/functions?limit=5", { key: tenant.key });
    expect(first.json.items.map((f: { name: string }) => f.name)).toEqual(all.slice(0, 5));
    // "a-late" sorts before every existing name, i.e. onto the page already read.
    expect(
      (await t.call("POST", "/v1/functions", { key: tenant.key, body: { name: "a-late", runtime: "edge" } }))
        .status,
    ).toBe(201);
    const second = await t.call("GET", `/v1/functions?limit=5&cursor=${first.json.nextCursor}`, {
      key: tenant.key,
    });
    expect(second.json.items.map((f: { name: string }) => f.name)).toEqual(all.slice(5, 10));
  });
});
