import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { createFunction, deploy, echoes, expectError } from "./routing-helpers.ts";

const DAY = 86_400_000;

/** Tenant routes on the apps domain, the /r/ prefix and verified custom domains; no real DNS. */
describe("routes and domains", () => {
  let t: TestGateway;
  let a: { name: string; id: string; key: string };
  let b: { name: string; id: string; key: string };
  const txt = new Map<string, string[][]>();
  const lookedUp: string[] = [];
  const routeIds: Record<string, string> = {};

  const route = (key: string, body: Record<string, unknown>) => t.call("POST", "/v1/routes", { key, body });
  const viaPrefix = (method: string, path: string, headers?: Record<string, string>) =>
    t.call(method, `/r/${a.name}${path}`, headers ? { headers } : {});
  const viaHost = (host: string, method: string, path: string) => t.call(method, path, { headers: { host } });

  beforeAll(async () => {
    t = await startTestGateway({
      edge: true,
      resolveTxt: async (name) => {
        lookedUp.push(name);
        const records = txt.get(name);
        if (!records) throw Object.assign(new Error(`queryTxt ENODATA ${name}`), { code: "ENODATA" });
        return records;
      },
    });
    a = await t.tenant();
    b = await t.tenant();
    await createFunction(t, a.key, "echo");
    for (const label of ["e1", "e2", "e3", "e4"]) await deploy(t, a.key, "echo", echoes(label));
    for (const [name, method, path, target] of [
      ["me", "GET", "/users/me", "echo@v1"],
      ["user", "GET", "/users/:id", "echo@v2"],
      ["anyUser", "ANY", "/users/:id/*", "echo@v3"],
      ["postUser", "POST", "/users/:id", "echo@v4"],
      ["all", "GET", "/*", "echo"],
    ] as const) {
      const res = await route(a.key, { method, path, function: target });
      expect(res.status, res.body).toBe(201);
      expect(res.json).toMatchObject({ method, path, function: target, host: null });
      routeIds[name] = res.json.id;
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it("routes - most specific wins: static, then params, then wildcards; params and the rest of the path reach the function", async () => {
    const me = await viaPrefix("GET", "/users/me");
    expect(me.json).toEqual({ v: "e1", path: "/", query: "", params: "{}" });
    const user = await viaPrefix("GET", "/users/42?x=1");
    expect(user.json).toEqual({ v: "e2", path: "/", query: "?x=1", params: JSON.stringify({ id: "42" }) });
    expect((await viaPrefix("POST", "/users/42")).json.v).toBe("e4");
    const deep = await viaPrefix("DELETE", "/users/42/posts/7?y=2");
    expect(deep.json).toEqual({
      v: "e3",
      path: "/posts/7",
      query: "?y=2",
      params: JSON.stringify({ id: "42" }),
    });
    // GET /users/me/x: no static or param route of that depth, so the ANY wildcard under :id.
    expect((await viaPrefix("GET", "/users/me/x")).json).toMatchObject({
      v: "e3",
      params: JSON.stringify({ id: "me" }),
    });
    const other = await viaPrefix("GET", "/some/where");
    expect(other.json).toMatchObject({ v: "e4", path: "/some/where" });
    expect(other.headers["kumo-version"]).toBe("4");
    expectError(await viaPrefix("PUT", "/users"), 404, "FN_001");
    // A client cannot forge the params header.
    expect((await viaPrefix("GET", "/users/me", { "kumo-route-params": '{"id":"evil"}' })).json.params).toBe(
      "{}",
    );
  });

  it("routes - <tenant>.<apps domain> serves the same host-less routes; the whole path space is the tenant's", async () => {
    expect((await viaHost(`${a.name}.kumo.localhost`, "GET", "/users/42")).json).toMatchObject({ v: "e2" });
    expect((await viaHost(`${a.name}.kumo.localhost:8080`, "GET", "/users/me")).json).toMatchObject({
      v: "e1",
    });
    // /v1 on a tenant host is the tenant's path, not the management API.
    expect((await viaHost(`${a.name}.kumo.localhost`, "GET", "/v1/functions")).json).toMatchObject({
      v: "e4",
      path: "/v1/functions",
    });
    expectError(await viaHost("nobody-here.kumo.localhost", "GET", "/users/1"), 404, "FN_001");
    expectError(await viaHost(`${b.name}.kumo.localhost`, "GET", "/users/1"), 404, "FN_001");
    expectError(await t.call("GET", `/r/${b.name}/users/1`), 404, "FN_001");
  });

  it("routes - conflicts are 409 FN_006 naming the existing route; invalid routes are 400", async () => {
    const same = expectError(
      await route(a.key, { method: "GET", path: "/users/:uid", function: "echo" }),
      409,
      "FN_006",
    );
    expect(same.message).toContain(routeIds.user);
    const any = expectError(
      await route(a.key, { method: "ANY", path: "/users/:x", function: "echo" }),
      409,
      "FN_006",
    );
    expect(any.message).toMatch(/route rte_/);
    const underAny = expectError(
      await route(a.key, { method: "patch", path: "/users/:who/*", function: "echo" }),
      409,
      "FN_006",
    );
    expect(underAny.message).toContain(routeIds.anyUser);
    expect((await route(a.key, { method: "PUT", path: "/users/:id", function: "echo" })).status).toBe(201);
    for (const body of [
      { method: "GET", path: "users", function: "echo" },
      { method: "GET", path: "/a/*/b", function: "echo" },
      { method: "FETCH", path: "/a", function: "echo" },
      { method: "GET", path: "/a", function: "nope" },
      { method: "GET", path: "/a", function: "Bad Name" },
    ]) {
      expectError(await route(a.key, body), 400, "FN_006");
    }
    // Tenant B neither sees nor deletes A's routes, and may use the same patterns itself.
    expect((await t.call("GET", "/v1/routes", { key: b.key })).json.items).toEqual([]);
    expectError(await t.call("DELETE", `/v1/routes/${routeIds.me}`, { key: b.key }), 404, "FN_001");
    await createFunction(t, b.key, "bfn");
    expect((await route(b.key, { method: "GET", path: "/users/:id", function: "bfn" })).status).toBe(201);
    // A viewer cannot create routes.
    const viewer = await t.key(a.name, a.key, "viewer");
    expectError(await route(viewer.key, { method: "GET", path: "/v", function: "echo" }), 403, "FN_009");
  });

  it("routes - deleting a route takes effect on the next request", async () => {
    expect((await viaPrefix("GET", "/users/me")).json.v).toBe("e1");
    expect((await t.call("DELETE", `/v1/routes/${routeIds.me}`, { key: a.key })).status).toBe(204);
    expect((await viaPrefix("GET", "/users/me")).json).toMatchObject({
      v: "e2",
      params: JSON.stringify({ id: "me" }),
    });
    const list = await t.call("GET", "/v1/routes", { key: a.key });
    expect(list.json.items.map((r: { id: string }) => r.id)).not.toContain(routeIds.me);
  });

  it("domains - a claim is pending with a TXT challenge; another tenant's pending claim does not block it", async () => {
    const res = await t.call("POST", "/v1/domains", { key: a.key, body: { hostname: "api.example.com" } });
    expect(res.status, res.body).toBe(201);
    expect(res.json).toMatchObject({
      hostname: "api.example.com",
      status: "pending",
      verification: { type: "TXT", name: "_kumo-challenge.api.example.com" },
    });
    expect(res.json.verification.value).toMatch(/^kumo-verify=[0-9a-f]{32}$/);
    expect(Date.parse(res.json.expiresAt) - Date.now()).toBeGreaterThan(6 * DAY);
    // A pending claim is no lock: B may claim too (its own token), and whoever verifies first wins.
    const other = await t.call("POST", "/v1/domains", { key: b.key, body: { hostname: "api.example.com" } });
    expect(other.status, other.body).toBe(201);
    expect(other.json).toMatchObject({ hostname: "api.example.com", status: "pending" });
    expect(other.json.verification.value).not.toBe(res.json.verification.value);
    expectError(
      await t.call("POST", "/v1/domains", { key: a.key, body: { hostname: "api.example.com" } }),
      409,
      "FN_006",
    );
    for (const hostname of [
      "API.example.com",
      "10.0.0.1",
      "x.kumo.localhost",
      "kumo.localhost",
      "localhost",
      "a..b.com",
      "-x.example.com",
    ]) {
      expectError(await t.call("POST", "/v1/domains", { key: a.key, body: { hostname } }), 400, "FN_006");
    }
  });

  it("domains - an unverified domain routes nothing and cannot carry routes", async () => {
    const err = expectError(
      await route(a.key, { method: "GET", path: "/users/:id", function: "echo@v1", host: "api.example.com" }),
      400,
      "FN_006",
    );
    expect(err.message).toMatch(/not a verified domain/);
    expectError(await viaHost("api.example.com", "GET", "/users/42"), 404, "FN_001");
  });

  it("domains - verify checks the TXT record through the injected resolver", async () => {
    const wrong = expectError(
      await t.call("POST", "/v1/domains/api.example.com/verify", { key: a.key }),
      400,
      "FN_006",
    );
    expect(wrong.message).toMatch(/_kumo-challenge\.api\.example\.com/);
    txt.set("_kumo-challenge.api.example.com", [["kumo-verify=not-it"]]);
    expect(
      expectError(await t.call("POST", "/v1/domains/api.example.com/verify", { key: a.key }), 400, "FN_006")
        .message,
    ).toMatch(/not-it/);
    const { value } = (await t.call("GET", "/v1/domains/api.example.com", { key: a.key })).json.verification;
    // Long TXT values arrive in chunks; the value is their concatenation.
    txt.set("_kumo-challenge.api.example.com", [["v=spf1 -all"], [value.slice(0, 10), value.slice(10)]]);
    const ok = await t.call("POST", "/v1/domains/api.example.com/verify", { key: a.key });
    expect(ok.status, ok.body).toBe(200);
    expect(ok.json).toMatchObject({ status: "verified", verifiedBy: "dns" });
    expect(lookedUp.every((name) => name === "_kumo-challenge.api.example.com")).toBe(true);
    // Tenant B's pending claim went with A's verification: B can neither verify, see nor re-claim it.
    expectError(await t.call("POST", "/v1/domains/api.example.com/verify", { key: b.key }), 404, "FN_001");
    expect((await t.call("GET", "/v1/domains", { key: b.key })).json.items).toEqual([]);
    const taken = expectError(
      await t.call("POST", "/v1/domains", { key: b.key, body: { hostname: "api.example.com" } }),
      409,
      "FN_006",
    );
    expect(taken.message).toBe("hostname is claimed and verified by another tenant");
    expect(taken.message).not.toContain(a.name);
  });

  it("domains - a verified domain serves only its own routes, apart from the host-less ones", async () => {
    const res = await route(a.key, {
      method: "GET",
      path: "/users/:id",
      function: "echo@v1",
      host: "api.example.com",
    });
    expect(res.status, res.body).toBe(201);
    expect((await viaHost("api.example.com", "GET", "/users/42")).json).toEqual({
      v: "e1",
      path: "/",
      query: "",
      params: JSON.stringify({ id: "42" }),
    });
    expect((await viaHost("API.Example.com:443", "GET", "/users/7")).json.v).toBe("e1");
    expectError(await viaHost("api.example.com", "GET", "/elsewhere"), 404, "FN_001");
    expect((await viaHost(`${a.name}.kumo.localhost`, "GET", "/users/42")).json.v).toBe("e2");
    // B cannot put routes on A's domain.
    expectError(
      await route(b.key, { method: "GET", path: "/x", function: "bfn", host: "api.example.com" }),
      400,
      "FN_006",
    );
  });

  it("domains - the platform admin can approve a claim; tenants cannot", async () => {
    expect(
      (await t.call("POST", "/v1/domains", { key: b.key, body: { hostname: "www.b-corp.example" } })).status,
    ).toBe(201);
    expectError(
      await t.call("POST", "/v1/domains/www.b-corp.example/approve", { key: b.key }),
      403,
      "FN_009",
    );
    const approved = await t.call("POST", "/v1/domains/www.b-corp.example/approve", { key: t.adminKey });
    expect(approved.json).toMatchObject({ status: "verified", verifiedBy: "platform-admin" });
    expect(
      (await route(b.key, { method: "ANY", path: "/*", function: "bfn", host: "www.b-corp.example" })).status,
    ).toBe(201);
    expectError(
      await t.call("POST", "/v1/domains/nothing.example/approve", { key: t.adminKey }),
      404,
      "FN_001",
    );
  });

  it("domains - tenant A's pending claim does not squat: B claims, B verifies, B owns it and A's claim is gone", async () => {
    const host = "shop.example.com";
    expect((await t.call("POST", "/v1/domains", { key: a.key, body: { hostname: host } })).status).toBe(201);
    const claimB = await t.call("POST", "/v1/domains", { key: b.key, body: { hostname: host } });
    expect(claimB.status, claimB.body).toBe(201);
    txt.set(`_kumo-challenge.${host}`, [[claimB.json.verification.value]]);
    const verified = await t.call("POST", `/v1/domains/${host}/verify`, { key: b.key });
    expect(verified.status, verified.body).toBe(200);
    expect(verified.json).toMatchObject({ hostname: host, status: "verified", expiresAt: null });
    // A's claim was removed (and A's audit log says why): A can neither see, verify nor re-claim it.
    expectError(await t.call("GET", `/v1/domains/${host}`, { key: a.key }), 404, "FN_001");
    expectError(await t.call("POST", `/v1/domains/${host}/verify`, { key: a.key }), 404, "FN_001");
    expectError(await t.call("POST", "/v1/domains", { key: a.key, body: { hostname: host } }), 409, "FN_006");
    const audit = await t.gateway.database.db
      .selectFrom("audit_events")
      .select(["action", "target"])
      .where("tenant_id", "=", a.id)
      .execute();
    expect(audit).toContainEqual({ action: "domain.superseded", target: `domain/${host}` });
    // B routes it; A cannot.
    expect((await route(b.key, { method: "ANY", path: "/*", function: "bfn", host })).status).toBe(201);
    expectError(await route(a.key, { method: "GET", path: "/x", function: "echo", host }), 400, "FN_006");
    expect((await t.call("DELETE", `/v1/domains/${host}`, { key: b.key })).status).toBe(204);
  });

  it("domains - a pending claim older than KUMO_DOMAIN_CLAIM_TTL (7 days) expires and blocks no one", async () => {
    const backdate = (hostname: string, tenantId: string) =>
      sql`update domains set created_at = now() - interval '8 days'
        where hostname = ${hostname} and tenant_id = ${tenantId}`.execute(t.gateway.database.db);
    // An expired claim cannot be verified, even with the right record; its owner claims afresh.
    const stale = await t.call("POST", "/v1/domains", {
      key: a.key,
      body: { hostname: "stale.example.com" },
    });
    expect(stale.status, stale.body).toBe(201);
    await backdate("stale.example.com", a.id);
    txt.set("_kumo-challenge.stale.example.com", [[stale.json.verification.value]]);
    const gone = expectError(
      await t.call("POST", "/v1/domains/stale.example.com/verify", { key: a.key }),
      410,
      "FN_006",
    );
    expect(gone.message).toMatch(/expired/);
    const again = await t.call("POST", "/v1/domains", {
      key: a.key,
      body: { hostname: "stale.example.com" },
    });
    expect(again.status, again.body).toBe(201);
    expect(again.json.verification.value).not.toBe(stale.json.verification.value);

    // Another tenant's claim sweeps expired ones away, so the platform admin sees one claim, not two.
    expect(
      (await t.call("POST", "/v1/domains", { key: a.key, body: { hostname: "old.example.com" } })).status,
    ).toBe(201);
    await backdate("old.example.com", a.id);
    expect(
      (await t.call("POST", "/v1/domains", { key: b.key, body: { hostname: "old.example.com" } })).status,
    ).toBe(201);
    expectError(await t.call("GET", "/v1/domains/old.example.com", { key: a.key }), 404, "FN_001");
    const approved = await t.call("POST", "/v1/domains/old.example.com/approve", { key: t.adminKey });
    expect(approved.status, approved.body).toBe(200);
    expect((await t.call("GET", "/v1/domains/old.example.com", { key: b.key })).json.status).toBe("verified");
    // A verified claim does not expire and still blocks everyone else.
    await backdate("old.example.com", b.id);
    expectError(
      await t.call("POST", "/v1/domains", { key: a.key, body: { hostname: "old.example.com" } }),
      409,
      "FN_006",
    );
    expect((await t.call("GET", "/v1/domains/old.example.com", { key: b.key })).json.status).toBe("verified");
  });

  it("domains - with several pending claims the platform admin names the tenant to approve", async () => {
    const host = "multi.example.com";
    for (const key of [a.key, b.key])
      expect((await t.call("POST", "/v1/domains", { key, body: { hostname: host } })).status).toBe(201);
    const which = expectError(
      await t.call("POST", `/v1/domains/${host}/approve`, { key: t.adminKey }),
      409,
      "FN_006",
    );
    expect(which.message).toContain("?tenant=");
    const approved = await t.call("POST", `/v1/domains/${host}/approve?tenant=${b.name}`, {
      key: t.adminKey,
    });
    expect(approved.status, approved.body).toBe(200);
    expect(approved.json).toMatchObject({ status: "verified", verifiedBy: "platform-admin" });
    expectError(await t.call("GET", `/v1/domains/${host}`, { key: a.key }), 404, "FN_001");
    expectError(
      await t.call("POST", `/v1/domains/${host}/approve?tenant=${a.name}`, { key: t.adminKey }),
      404,
      "FN_001",
    );
  });

  it("domains - releasing a domain deletes its routes and stops routing it", async () => {
    expect((await t.call("DELETE", "/v1/domains/api.example.com", { key: b.key })).status).toBe(404);
    expect((await t.call("DELETE", "/v1/domains/api.example.com", { key: a.key })).status).toBe(204);
    expectError(await viaHost("api.example.com", "GET", "/users/42"), 404, "FN_001");
    const routes = await t.call("GET", "/v1/routes", { key: a.key });
    expect(routes.json.items.filter((r: { host: string | null }) => r.host !== null)).toEqual([]);
    // Now another tenant may claim it.
    expect(
      (await t.call("POST", "/v1/domains", { key: b.key, body: { hostname: "api.example.com" } })).status,
    ).toBe(201);
  });
});
