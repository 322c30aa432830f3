import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CallResult, startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { createEdgeFunction, expectError } from "./api-helpers.ts";

type Caller = "viewer" | "invoker" | "developer" | "admin" | "platform";
type ActionName = "read" | "invoke" | "write" | "manage-keys" | "platform";

/** Which caller may do which action; everything else is FN_009 403. */
const ALLOWED: Record<Caller, readonly ActionName[]> = {
  viewer: ["read"],
  invoker: ["read", "invoke"],
  developer: ["read", "invoke", "write"],
  admin: ["read", "invoke", "write", "manage-keys"],
  // The platform admin manages tenants and their keys, but never acts inside a tenant.
  platform: ["manage-keys", "platform"],
};

/** A call's outcome plus the status that means "allowed" for it. */
type Attempt = CallResult & { ok: number };

describe("auth and roles", () => {
  let t: TestGateway;
  let tenant: { name: string; id: string; key: string };
  const keys = {} as Record<Caller, string>;
  let counter = 0;

  /** A representative route for each action; each call uses fresh names so calls do not collide. */
  const action: Record<ActionName, (key: string) => Promise<Attempt>> = {
    read: async (key) => ({ ...(await t.call("GET", "/v1/functions/hello", { key })), ok: 200 }),
    invoke: async (key) => ({
      ...(await t.call("POST", "/v1/functions/hello/invoke", { key, body: "x" })),
      ok: 200,
    }),
    write: async (key) => ({
      ...(await t.call("PUT", "/v1/functions/hello/env/K", { key, body: { value: String(++counter) } })),
      ok: 200,
    }),
    "manage-keys": async (key) => ({
      ...(await t.call("GET", `/v1/tenants/${tenant.name}/api-keys`, { key })),
      ok: 200,
    }),
    platform: async (key) => ({
      ...(await t.call("POST", "/v1/tenants", { key, body: { name: `made-${++counter}` } })),
      ok: 201,
    }),
  };

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    tenant = await t.tenant();
    keys.admin = tenant.key;
    keys.platform = t.adminKey;
    for (const role of ["viewer", "invoker", "developer"] as const)
      keys[role] = (await t.key(tenant.name, tenant.key, role)).key;
    await createEdgeFunction(t, tenant.key, "hello", ["hello v1"]);
  });
  afterAll(async () => {
    await t?.close();
  });

  const callers: Caller[] = ["viewer", "invoker", "developer", "admin", "platform"];
  const actions: ActionName[] = ["read", "invoke", "write", "manage-keys", "platform"];
  for (const caller of callers) {
    for (const act of actions) {
      const allowed = ALLOWED[caller].includes(act);
      it(`roles - ${caller} ${allowed ? "may" : "may not"} ${act}`, async () => {
        const res = await action[act](keys[caller]);
        if (allowed) {
          expect(res.status, res.body).toBe(res.ok);
          if (act === "invoke") expect(res.body).toBe("hello v1");
        } else {
          expect(res.status, res.body).toBe(403);
          expect(res.json.error?.code).toBe("FN_009");
        }
      });
    }
  }

  it("auth - a missing key is 401 FN_009 naming the header", async () => {
    const err = expectError(await t.call("GET", "/v1/functions"), 401, "FN_009");
    expect(err.message).toMatch(/Authorization: Bearer/);
  });

  it("auth - malformed Authorization headers are 401 FN_009", async () => {
    for (const header of [
      "Basic dXNlcjpwYXNz",
      "Bearer",
      "Bearer ",
      `Bearer ${tenant.key} extra`,
      tenant.key,
      "Token abc",
    ]) {
      const res = await t.call("GET", "/v1/functions", { headers: { authorization: header } });
      const err = expectError(res, 401, "FN_009");
      expect(err.message, header).toMatch(/Bearer/);
    }
  });

  it("auth - an unknown key is 401 FN_009", async () => {
    const err = expectError(
      await t.call("GET", "/v1/functions", { key: "kumo_thisKeyWasNeverIssued0000000000000000000" }),
      401,
      "FN_009",
    );
    expect(err.message).toMatch(/invalid API key/);
  });

  it("auth - revoking a key takes effect on the very next request, and the key is listed with revokedAt", async () => {
    const doomed = await t.key(tenant.name, tenant.key, "developer");
    // Warm the key cache first: revocation must not wait for the cache to expire.
    expect((await t.call("GET", "/v1/functions", { key: doomed.key })).status).toBe(200);
    const revoked = await t.call("DELETE", `/v1/tenants/${tenant.name}/api-keys/${doomed.id}`, {
      key: tenant.key,
    });
    expect(revoked.status, revoked.body).toBe(204);
    const err = expectError(await t.call("GET", "/v1/functions", { key: doomed.key }), 401, "FN_009");
    expect(err.message).toMatch(/revoked/);
    // Also on the invocation scope, which authenticates separately.
    expectError(
      await t.call("POST", "/v1/functions/hello/invoke", { key: doomed.key, body: "x" }),
      401,
      "FN_009",
    );

    const list = await t.call("GET", `/v1/tenants/${tenant.name}/api-keys?limit=500`, { key: tenant.key });
    const row = list.json.items.find((k: { id: string }) => k.id === doomed.id);
    expect(row).toBeDefined();
    expect(Number.isNaN(Date.parse(row.revokedAt))).toBe(false);
    const live = list.json.items.filter((k: { id: string }) => k.id !== doomed.id);
    for (const k of live) expect(k.revokedAt).toBeNull();
    for (const k of list.json.items) expect(k).not.toHaveProperty("key");
  });

  it("auth - a revoked tenant admin key loses key management at once", async () => {
    const second = await t.key(tenant.name, tenant.key, "admin");
    expect((await t.call("GET", `/v1/tenants/${tenant.name}/api-keys`, { key: second.key })).status).toBe(
      200,
    );
    expect(
      (await t.call("DELETE", `/v1/tenants/${tenant.name}/api-keys/${second.id}`, { key: tenant.key }))
        .status,
    ).toBe(204);
    expectError(
      await t.call("POST", `/v1/tenants/${tenant.name}/api-keys`, {
        key: second.key,
        body: { role: "admin" },
      }),
      401,
      "FN_009",
    );
  });

  it("auth - last_used_at is set once a key is used", async () => {
    const fresh = await t.key(tenant.name, tenant.key, "viewer");
    const before = await t.call("GET", `/v1/tenants/${tenant.name}/api-keys?limit=500`, { key: tenant.key });
    expect(before.json.items.find((k: { id: string }) => k.id === fresh.id).lastUsedAt).toBeNull();
    const usedAt = Date.now();
    expect((await t.call("GET", "/v1/functions", { key: fresh.key })).status).toBe(200);
    await expect
      .poll(
        async () => {
          const list = await t.call("GET", `/v1/tenants/${tenant.name}/api-keys?limit=500`, {
            key: tenant.key,
          });
          return list.json.items.find((k: { id: string }) => k.id === fresh.id).lastUsedAt;
        },
        { timeout: 5000 },
      )
      .not.toBeNull();
    const row = await t.gateway.database.db
      .selectFrom("api_keys")
      .select("last_used_at")
      .where("id", "=", fresh.id)
      .executeTakeFirstOrThrow();
    expect(row.last_used_at?.getTime()).toBeGreaterThanOrEqual(usedAt - 1000);
  });

  it("auth - a tenant admin cannot create or list tenants", async () => {
    const err = expectError(
      await t.call("POST", "/v1/tenants", { key: tenant.key, body: { name: "sneaky" } }),
      403,
      "FN_009",
    );
    expect(err.message).toMatch(/platform admin/);
    expectError(await t.call("GET", "/v1/tenants", { key: tenant.key }), 403, "FN_009");
    expect(
      await t.gateway.database.db
        .selectFrom("tenants")
        .select("id")
        .where("name", "=", "sneaky")
        .executeTakeFirst(),
    ).toBeUndefined();
  });

  it("auth - the platform admin key cannot act inside a tenant, with a message saying why", async () => {
    for (const [method, url, body] of [
      ["GET", "/v1/functions", undefined],
      ["POST", "/v1/functions", { name: "by-platform", runtime: "edge" }],
      ["GET", "/v1/secrets", undefined],
      ["POST", "/v1/functions/hello/invoke", "x"],
    ] as const) {
      const err = expectError(await t.call(method, url, { key: t.adminKey, body }), 403, "FN_009");
      expect(err.message, `${method} ${url}`).toMatch(/platform admin key/);
    }
  });

  it("auth - whoami reports the caller's tenant and role", async () => {
    const me = await t.call("GET", "/v1/whoami", { key: keys.invoker });
    expect(me.json).toMatchObject({ tenant: { id: tenant.id, name: tenant.name }, role: "invoker" });
    expect((await t.call("GET", "/v1/whoami", { key: t.adminKey })).json).toMatchObject({
      tenant: null,
      role: "platform-admin",
    });
  });

  it("auth - a key-protected public function needs an invoker key of its own tenant", async () => {
    await createEdgeFunction(t, tenant.key, "guarded", [], { httpAuth: "key" });
    const dep = await t.call("POST", "/v1/functions/guarded/deployments", {
      key: tenant.key,
      body: {
        files: {
          "index.ts":
            "export default { fetch(req: Request) { return new Response('auth=' + (req.headers.get('authorization') ?? 'none')) } }",
        },
      },
    });
    expect(dep.status, dep.body).toBe(202);
    expectError(await t.call("GET", `/fn/${tenant.name}/guarded/`), 401, "FN_009");
    expectError(await t.call("GET", `/fn/${tenant.name}/guarded/`, { key: keys.viewer }), 403, "FN_009");
    const ok = await t.call("GET", `/fn/${tenant.name}/guarded/`, { key: keys.invoker });
    expect(ok.status, ok.body).toBe(200);
    // The Kumo key is stripped before the function sees the request.
    expect(ok.body).toBe("auth=none");
  });
});
