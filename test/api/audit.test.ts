import { purgeAudit } from "@kumo/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CallResult, startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { edgeSource, expectError } from "./api-helpers.ts";
import { registeredRoutes } from "./route-list.ts";

/**
 * Every management route (POST/PUT/PATCH/DELETE under /v1) appends to the audit log. A route added
 * without a case here fails the coverage test; a case whose route writes no entry fails its own.
 */
interface Ids {
  tenant: string;
  keyId: string;
  triggerId: string;
  rolloutId: string;
  routeId: string;
  alertId: string;
  domainToken: string;
}

interface AuditCase {
  route: string;
  /** The action the entry must carry. */
  action: string;
  /** Runs the route successfully (2xx), with the tenant admin key unless `admin`. */
  run: (t: TestGateway, key: string, ids: Ids) => Promise<CallResult>;
  admin?: true;
}

const HOST = "shop.audit-test.example.com";

const CASES: AuditCase[] = [
  {
    route: "PATCH /v1/tenants/:tenant",
    action: "tenant.update",
    admin: true,
    run: (t, key, ids) =>
      t.call("PATCH", `/v1/tenants/${ids.tenant}`, { key, body: { logRetentionDays: 7 } }),
  },
  {
    route: "PUT /v1/tenants/:tenant/quotas",
    action: "tenant.quotas",
    admin: true,
    run: (t, key, ids) =>
      t.call("PUT", `/v1/tenants/${ids.tenant}/quotas`, { key, body: { functions: 1000 } }),
  },
  {
    route: "POST /v1/tenants/:tenant/api-keys",
    action: "key.create",
    run: async (t, key, ids) => {
      const res = await t.call("POST", `/v1/tenants/${ids.tenant}/api-keys`, {
        key,
        body: { role: "viewer" },
      });
      ids.keyId = res.json.id;
      return res;
    },
  },
  {
    route: "DELETE /v1/tenants/:tenant/api-keys/:id",
    action: "key.revoke",
    run: (t, key, ids) => t.call("DELETE", `/v1/tenants/${ids.tenant}/api-keys/${ids.keyId}`, { key }),
  },
  {
    route: "POST /v1/functions",
    action: "function.create",
    run: (t, key) => t.call("POST", "/v1/functions", { key, body: { name: "audited", runtime: "edge" } }),
  },
  {
    route: "PATCH /v1/functions/:name",
    action: "function.configure",
    run: (t, key) => t.call("PATCH", "/v1/functions/audited", { key, body: { config: { memoryMb: 256 } } }),
  },
  {
    route: "POST /v1/functions/:name/deployments",
    action: "deploy",
    run: async (t, key) => {
      await t.call("POST", "/v1/functions/audited/deployments", { key, body: edgeSource("one") });
      return t.call("POST", "/v1/functions/audited/deployments", { key, body: edgeSource("two") });
    },
  },
  {
    route: "PUT /v1/functions/:name/aliases/:alias",
    action: "alias.set",
    run: (t, key) =>
      t.call("PUT", "/v1/functions/audited/aliases/canary", {
        key,
        body: { routing: [{ version: 1, weight: 100 }] },
      }),
  },
  {
    route: "DELETE /v1/functions/:name/aliases/:alias",
    action: "alias.delete",
    run: (t, key) => t.call("DELETE", "/v1/functions/audited/aliases/canary", { key }),
  },
  {
    route: "POST /v1/functions/:name/rollback",
    action: "rollback",
    run: (t, key) => t.call("POST", "/v1/functions/audited/rollback", { key, body: {} }),
  },
  {
    route: "PUT /v1/functions/:name/env/:key",
    action: "env.set",
    run: (t, key) => t.call("PUT", "/v1/functions/audited/env/FOO", { key, body: { value: "bar-value-1" } }),
  },
  {
    route: "DELETE /v1/functions/:name/env/:key",
    action: "env.delete",
    run: (t, key) => t.call("DELETE", "/v1/functions/audited/env/FOO", { key }),
  },
  {
    route: "PUT /v1/secrets/:name",
    action: "secret.put",
    run: (t, key) => t.call("PUT", "/v1/secrets/AUDIT_SECRET", { key, body: { value: "secret-value-77" } }),
  },
  {
    route: "DELETE /v1/secrets/:name",
    action: "secret.delete",
    run: (t, key) => t.call("DELETE", "/v1/secrets/AUDIT_SECRET", { key }),
  },
  {
    route: "POST /v1/functions/:name/triggers",
    action: "trigger.create",
    run: async (t, key, ids) => {
      const res = await t.call("POST", "/v1/functions/audited/triggers", {
        key,
        body: { schedule: "0 3 * * *", paused: true },
      });
      ids.triggerId = res.json.id;
      return res;
    },
  },
  {
    route: "PATCH /v1/functions/:name/triggers/:id",
    action: "trigger.update",
    run: (t, key, ids) =>
      t.call("PATCH", `/v1/functions/audited/triggers/${ids.triggerId}`, {
        key,
        body: { schedule: "0 4 * * *" },
      }),
  },
  {
    route: "POST /v1/functions/:name/triggers/:id/fire",
    action: "trigger.fire",
    run: (t, key, ids) => t.call("POST", `/v1/functions/audited/triggers/${ids.triggerId}/fire`, { key }),
  },
  {
    route: "DELETE /v1/functions/:name/triggers/:id",
    action: "trigger.delete",
    run: (t, key, ids) => t.call("DELETE", `/v1/functions/audited/triggers/${ids.triggerId}`, { key }),
  },
  {
    route: "POST /v1/functions/:name/rollouts",
    action: "rollout.start",
    run: async (t, key, ids) => {
      const res = await t.call("POST", "/v1/functions/audited/rollouts", {
        key,
        body: { to: 2, steps: [50, 100], interval: "1h", alias: "live" },
      });
      ids.rolloutId = res.json.id;
      return res;
    },
  },
  {
    route: "POST /v1/functions/:name/rollouts/:id/cancel",
    action: "rollout.cancel",
    run: (t, key, ids) => t.call("POST", `/v1/functions/audited/rollouts/${ids.rolloutId}/cancel`, { key }),
  },
  {
    route: "POST /v1/routes",
    action: "route.create",
    run: async (t, key, ids) => {
      const res = await t.call("POST", "/v1/routes", {
        key,
        body: { method: "GET", path: "/audited", function: "audited" },
      });
      ids.routeId = res.json.id;
      return res;
    },
  },
  {
    route: "DELETE /v1/routes/:id",
    action: "route.delete",
    run: (t, key, ids) => t.call("DELETE", `/v1/routes/${ids.routeId}`, { key }),
  },
  {
    route: "POST /v1/domains",
    action: "domain.claim",
    run: async (t, key, ids) => {
      const res = await t.call("POST", "/v1/domains", { key, body: { hostname: HOST } });
      ids.domainToken = res.json.verification.value;
      return res;
    },
  },
  {
    route: "POST /v1/domains/:hostname/verify",
    action: "domain.verify",
    run: (t, key) => t.call("POST", `/v1/domains/${HOST}/verify`, { key }),
  },
  {
    route: "DELETE /v1/domains/:hostname",
    action: "domain.delete",
    run: (t, key) => t.call("DELETE", `/v1/domains/${HOST}`, { key }),
  },
  {
    route: "POST /v1/domains/:hostname/approve",
    action: "domain.verify",
    admin: true,
    run: async (t, key, ids) => {
      const admin = await t.call("GET", `/v1/tenants/${ids.tenant}/api-keys`, { key }); // platform admin sees the tenant
      expect(admin.status).toBe(200);
      return t.call("POST", `/v1/domains/${HOST}/approve`, { key });
    },
  },
  {
    route: "POST /v1/alerts",
    action: "alert.create",
    run: async (t, key, ids) => {
      const res = await t.call("POST", "/v1/alerts", {
        key,
        body: {
          name: "audited-errors",
          function: "audited",
          metric: "error_rate",
          threshold: 0.1,
          webhook: { url: "https://hooks.example.com/audit" },
        },
      });
      ids.alertId = res.json.id;
      return res;
    },
  },
  {
    route: "PATCH /v1/alerts/:id",
    action: "alert.update",
    run: (t, key, ids) => t.call("PATCH", `/v1/alerts/${ids.alertId}`, { key, body: { paused: true } }),
  },
  {
    route: "DELETE /v1/alerts/:id",
    action: "alert.delete",
    run: (t, key, ids) => t.call("DELETE", `/v1/alerts/${ids.alertId}`, { key }),
  },
  {
    route: "DELETE /v1/functions/:name",
    action: "function.delete",
    run: (t, key) => t.call("DELETE", "/v1/functions/audited", { key }),
  },
];

/**
 * Mutating /v1 routes that are not management: they run code or move data, and each leaves its
 * own record (an invocation, an event, a queue message) rather than an audit entry.
 */
const DATA_PLANE = new Set([
  "POST /v1/functions/:name/invoke",
  "POST /v1/functions/:name/run",
  "POST /v1/functions/:name/draft-runs",
  "POST /v1/run",
  "POST /v1/events",
  "POST /v1/queues/:name/messages",
  "POST /v1/functions/:name/dead-letters/:id/redrive",
  // Creating a tenant is audited in the new tenant's log (see the test below).
  "POST /v1/tenants",
]);

const MUTATING = /^(POST|PUT|PATCH|DELETE) \/v1\//;

let t: TestGateway;
let tenant: { name: string; id: string; key: string };
let adminKeyId = "";
const tokens = new Map<string, string>();

beforeAll(async () => {
  t = await startTestGateway({
    edge: true,
    resolveTxt: async (name) => {
      const value = tokens.get(name);
      if (!value) throw Object.assign(new Error("no record"), { code: "ENOTFOUND" });
      return [[value]];
    },
  });
  tenant = await t.tenant();
  const whoami = await t.call("GET", "/v1/whoami", { key: tenant.key });
  adminKeyId = whoami.json.keyId ?? whoami.json.key?.id ?? whoami.json.principal?.keyId;
}, 120_000);

afterAll(async () => {
  await t?.close();
});

async function auditCount(): Promise<number> {
  const row = await t.gateway.database.db
    .selectFrom("audit_events")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("tenant_id", "=", tenant.id)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe("audit log", () => {
  it("audit - every management route has a case (add one when adding a route)", () => {
    const mutating = registeredRoutes(t.gateway.app).filter((r) => MUTATING.test(r));
    const covered = new Set([...CASES.map((c) => c.route), ...DATA_PLANE]);
    expect(mutating.filter((r) => !covered.has(r))).toEqual([]);
    expect([...covered].filter((r) => !mutating.includes(r))).toEqual([]);
  });

  const ids: Ids = {
    tenant: "",
    keyId: "",
    triggerId: "",
    rolloutId: "",
    routeId: "",
    alertId: "",
    domainToken: "",
  };
  for (const c of CASES) {
    it(`audit - ${c.route} writes a "${c.action}" entry naming its actor`, async () => {
      ids.tenant = tenant.name;
      const before = await auditCount();
      if (c.route === "POST /v1/domains/:hostname/verify")
        tokens.set(`_kumo-challenge.${HOST}`, ids.domainToken);
      if (c.route === "POST /v1/domains/:hostname/approve")
        await t.call("POST", "/v1/domains", { key: tenant.key, body: { hostname: HOST } });
      const res = await c.run(t, c.admin ? t.adminKey : tenant.key, ids);
      expect(res.status, res.body).toBeLessThan(300);
      expect(await auditCount(), `${c.route} wrote no audit entry`).toBeGreaterThan(before);
      const newest = await t.call("GET", `/v1/audit?limit=20&action=${encodeURIComponent(c.action)}`, {
        key: tenant.key,
      });
      expect(newest.status, newest.body).toBe(200);
      const entry = newest.json.items[0];
      expect(entry, `no "${c.action}" entry`).toBeDefined();
      expect(entry.actor).toBe(c.admin ? "platform-admin" : adminKeyId);
      // Never a secret or env value.
      expect(newest.body).not.toContain("secret-value-77");
      expect(newest.body).not.toContain("bar-value-1");
    });
  }

  it("audit - creating a tenant is recorded in the new tenant's log", async () => {
    const created = await t.tenant();
    const res = await t.call("GET", "/v1/audit?action=tenant.create", { key: created.key });
    expect(res.json.items.map((e: { target: string }) => e.target)).toEqual([`tenant/${created.name}`]);
  });

  it("audit - filters by action prefix, actor, target and time, pages with a cursor", async () => {
    const keys = await t.call("GET", "/v1/audit?action=key.*", { key: tenant.key });
    expect(keys.json.items.map((e: { action: string }) => e.action).sort()).toEqual([
      "key.create",
      "key.revoke",
    ]);
    const fn = await t.call("GET", "/v1/audit?target=function/audited", { key: tenant.key });
    expect(fn.json.items.length).toBeGreaterThanOrEqual(5);
    expect(fn.json.items.every((e: { target: string }) => e.target === "function/audited")).toBe(true);
    const byAdmin = await t.call("GET", "/v1/audit?actor=platform-admin", { key: tenant.key });
    expect(byAdmin.json.items.map((e: { action: string }) => e.action).sort()).toEqual(
      ["domain.verify", "tenant.create", "tenant.quotas", "tenant.update"].sort(),
    );
    const future = await t.call("GET", `/v1/audit?since=${new Date(Date.now() + 60_000).toISOString()}`, {
      key: tenant.key,
    });
    expect(future.json.items).toEqual([]);
    const past = await t.call("GET", `/v1/audit?until=${new Date(Date.now() - 3_600_000).toISOString()}`, {
      key: tenant.key,
    });
    expect(past.json.items).toEqual([]);
    // Pages of 4 cover the whole log once, newest first.
    const all = await t.call("GET", "/v1/audit?limit=500", { key: tenant.key });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/audit?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await t.call("GET", url, { key: tenant.key });
      seen.push(...page.json.items.map((e: { id: string }) => e.id));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.json.items.map((e: { id: string }) => e.id));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("audit - only tenant admins read it; bad filters are 400 naming the field", async () => {
    const dev = await t.key(tenant.name, tenant.key, "developer");
    expectError(await t.call("GET", "/v1/audit", { key: dev.key }), 403, "FN_009");
    const bad = await t.call("GET", "/v1/audit?since=yesterday", { key: tenant.key });
    expect(expectError(bad, 400, "FN_006").message).toMatch(/since/);
    const actor = await t.call("GET", "/v1/audit?actor=bob", { key: tenant.key });
    expect(expectError(actor, 400, "FN_006").message).toMatch(/actor/);
  });

  it("audit - entries carry the client address; refused and failed actions are recorded with their code", async () => {
    const other = await t.tenant();
    const viewer = await t.key(other.name, other.key, "viewer");
    const res = await t.gateway.app.inject({
      method: "POST",
      url: "/v1/functions",
      headers: { authorization: `Bearer ${other.key}`, "content-type": "application/json" },
      payload: JSON.stringify({ name: "addressed", runtime: "edge" }),
      remoteAddress: "203.0.113.9",
    });
    expect(res.statusCode, res.body).toBe(201);
    // A viewer may not create functions: "denied", FN_009.
    const refused = await t.call("POST", "/v1/functions", {
      key: viewer.key,
      body: { name: "not-allowed", runtime: "edge" },
    });
    expectError(refused, 403, "FN_009");
    // A bad request: "failed", FN_006. Data-plane calls (invoke) are never audited.
    expectError(
      await t.call("PUT", "/v1/functions/addressed/env/lower-case", { key: other.key, body: {} }),
      400,
      "FN_006",
    );
    expect((await t.call("POST", "/v1/functions/nothing/invoke", { key: other.key })).status).toBe(404);
    // Written after the response: wait for them.
    let items: {
      action: string;
      outcome: string;
      actor: string;
      address: string | null;
      details: unknown;
    }[] = [];
    for (let i = 0; i < 50; i++) {
      const log = await t.call("GET", "/v1/audit?limit=100", { key: other.key });
      items = log.json.items;
      if (items.filter((e) => e.outcome !== "ok").length >= 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const created = items.find((e) => e.action === "function.create");
    expect(created?.address).toBe("203.0.113.9");
    expect(created?.outcome).toBe("ok");
    expect(items.find((e) => e.outcome === "denied")).toMatchObject({
      action: "POST /v1/functions",
      actor: viewer.id,
      details: { code: "FN_009", status: 403 },
    });
    expect(items.find((e) => e.outcome === "failed")).toMatchObject({
      action: "PUT /v1/functions/:name/env/:key",
      details: { code: "FN_006", status: 400 },
    });
    expect(items.some((e) => e.action.includes("invoke"))).toBe(false);
    const denied = await t.call("GET", "/v1/audit?outcome=denied", { key: other.key });
    expect(denied.json.items.map((e: { outcome: string }) => e.outcome)).toEqual(["denied"]);
  });

  it("audit - the platform admin reads one tenant's log or every tenant's", async () => {
    const one = await t.call("GET", `/v1/audit?tenant=${tenant.name}&action=tenant.create`, {
      key: t.adminKey,
    });
    expect(one.status, one.body).toBe(200);
    expect(one.json.items.map((e: { target: string }) => e.target)).toEqual([`tenant/${tenant.name}`]);
    const all = await t.call("GET", "/v1/audit?action=tenant.create&limit=500", { key: t.adminKey });
    expect(all.status, all.body).toBe(200);
    const tenants = new Set(all.json.items.map((e: { tenantId: string }) => e.tenantId));
    expect(tenants.has(tenant.id)).toBe(true);
    expect(tenants.size).toBeGreaterThanOrEqual(2);
    expectError(await t.call("GET", "/v1/audit?tenant=no-such-tenant", { key: t.adminKey }), 404, "FN_001");
  });

  it("audit - retention: entries older than KUMO_AUDIT_RETENTION are purged in batches", async () => {
    const db = t.gateway.database.db;
    const old = await t.tenant();
    const day = 86_400_000;
    await db
      .insertInto("audit_events")
      .values(
        Array.from({ length: 7 }, (_, i) => ({
          tenant_id: old.id,
          actor: "platform-admin",
          action: "old.thing",
          target: `thing/${i}`,
          details: "{}",
          at: new Date(Date.now() - 400 * day),
        })) as never,
      )
      .execute();
    const count = async () =>
      Number(
        (
          await db
            .selectFrom("audit_events")
            .select((eb) => eb.fn.countAll<string>().as("n"))
            .where("tenant_id", "=", old.id)
            .where("action", "=", "old.thing")
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(await count()).toBe(7);
    const first = await purgeAudit(db, { retentionMs: 365 * day, batchSize: 3, maxStatements: 2 });
    expect(first).toEqual({ deleted: 6, complete: false });
    const rest = await purgeAudit(db, { retentionMs: 365 * day, batchSize: 3 });
    expect(rest).toEqual({ deleted: 1, complete: true });
    expect(await count()).toBe(0);
    // Recent entries stay.
    const recent = await t.call("GET", "/v1/audit?action=tenant.create", { key: old.key });
    expect(recent.json.items).toHaveLength(1);
  });
});
