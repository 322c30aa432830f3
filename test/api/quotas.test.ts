import { randomBytes } from "node:crypto";
import { connectBus, type NatsConnection } from "@kumo/bus";
import { bundleEdgeFunction } from "@kumo/edge";
import { type Gateway, loadGatewayConfig, start } from "@kumo/gateway";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, TEST_NATS_URL, type TestGateway } from "../support/test-gateway.ts";
import { edgeSource, expectError } from "./api-helpers.ts";

const SLOW = `export default { async fetch(req: Request) {
  const ms = Number(new URL(req.url).searchParams.get("ms") ?? "0");
  await new Promise((r) => setTimeout(r, ms));
  return new Response("slept " + ms);
} }`;

let t: TestGateway;
/** A second gateway on the same database and NATS: the concurrency quota holds across both. */
let second: Gateway;
let secondNats: NatsConnection;

beforeAll(async () => {
  const env = { KUMO_RATE_LIMIT_SYNC: "50ms", KUMO_QUOTA_REFRESH: "200ms" };
  t = await startTestGateway({ edge: true, env });
  secondNats = await connectBus({ url: TEST_NATS_URL, name: "kumo-test-quotas-second" });
  second = await start(
    loadGatewayConfig({
      KUMO_ADMIN_KEY: t.adminKey,
      KUMO_MASTER_KEY: randomBytes(32).toString("hex"),
      KUMO_DATA_DIR: `/tmp/kumo-test-${t.schema}-b`,
      KUMO_LOG_LEVEL: "silent",
      KUMO_PORT: "0",
      ...env,
    }),
    {
      database: t.gateway.database,
      nats: secondNats,
      providers: [...t.gateway.context.providers],
      bundleEdge: bundleEdgeFunction,
      builder: null,
      listen: false,
    },
  );
}, 120_000);

afterAll(async () => {
  await second?.stop();
  await secondNats?.close();
  await t?.close();
}, 60_000);

async function setQuotas(tenant: string, body: Record<string, number | null>): Promise<void> {
  const res = await t.call("PUT", `/v1/tenants/${tenant}/quotas`, { key: t.adminKey, body });
  expect(res.status, res.body).toBe(200);
}

async function deploy(key: string, name: string, source = edgeSource(name)) {
  return t.call("POST", `/v1/functions/${name}/deployments`, { key, body: source });
}

async function usage(key: string, query = "") {
  const res = await t.call("GET", `/v1/usage${query}`, { key });
  expect(res.status, res.body).toBe(200);
  return res.json.usage;
}

describe("tenant quotas - admin API", () => {
  it("quotas - the platform admin sets them, the tenant's admins read them, nobody else changes them", async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const put = await t.call("PUT", `/v1/tenants/${a.name}/quotas`, {
      key: t.adminKey,
      body: { functions: 10, concurrency: 3 },
    });
    expect(put.status, put.body).toBe(200);
    expect(put.json.quotas).toMatchObject({ functions: 10, concurrency: 3, invocationsPerDay: null });
    const read = await t.call("GET", `/v1/tenants/${a.name}/quotas`, { key: a.key });
    expect(read.status, read.body).toBe(200);
    expect(read.json.effective).toMatchObject({ functions: 10, concurrency: 3, storedBytes: null });
    expectError(
      await t.call("PUT", `/v1/tenants/${a.name}/quotas`, { key: a.key, body: { functions: 1000 } }),
      403,
      "FN_009",
    );
    const dev = await t.key(a.name, a.key, "developer");
    expectError(await t.call("GET", `/v1/tenants/${a.name}/quotas`, { key: dev.key }), 403, "FN_009");
    // Another tenant's quotas are "not found", as if it did not exist.
    expectError(await t.call("GET", `/v1/tenants/${a.name}/quotas`, { key: b.key }), 404, "FN_001");
    const bad = await t.call("PUT", `/v1/tenants/${a.name}/quotas`, {
      key: t.adminKey,
      body: { concurrency: -1 },
    });
    expect(expectError(bad, 400, "FN_006").message).toMatch(/concurrency/);
    const unknown = await t.call("PUT", `/v1/tenants/${a.name}/quotas`, {
      key: t.adminKey,
      body: { cpus: 4 },
    });
    expect(expectError(unknown, 400, "FN_006").message).toMatch(/cpus/);
    expectError(
      await t.call("PUT", "/v1/tenants/no-such-tenant/quotas", { key: t.adminKey, body: {} }),
      404,
      "FN_001",
    );
    const audit = await t.call("GET", "/v1/audit?action=tenant.quotas", { key: a.key });
    expect(audit.json.items[0]).toMatchObject({ actor: "platform-admin", target: `tenant/${a.name}` });
  });
});

describe("tenant quotas - management (FN_006)", () => {
  it("quotas - functions: the next create is refused naming the quota, its limit and the use", async () => {
    const a = await t.tenant();
    await setQuotas(a.name, { functions: 2 });
    for (const name of ["one", "two"]) {
      const res = await t.call("POST", "/v1/functions", { key: a.key, body: { name, runtime: "edge" } });
      expect(res.status, res.body).toBe(201);
    }
    const refused = await t.call("POST", "/v1/functions", {
      key: a.key,
      body: { name: "three", runtime: "edge" },
    });
    const error = expectError(refused, 409, "FN_006");
    expect(error.message).toMatch(/"functions"/);
    expect(error.details).toEqual({ quota: "functions", limit: 2, used: 2 });
    expect((await usage(a.key)).functions).toEqual({ limit: 2, used: 2 });
    // Raised: it works again (the change reaches the gateway at once).
    await setQuotas(a.name, { functions: 3 });
    const again = await t.call("POST", "/v1/functions", {
      key: a.key,
      body: { name: "three", runtime: "edge" },
    });
    expect(again.status, again.body).toBe(201);
  });

  it("quotas - versions kept: old versions are pruned to make room; pinned ones refuse the deploy", async () => {
    const a = await t.tenant();
    await setQuotas(a.name, { versionsPerFunction: 2 });
    await t.call("POST", "/v1/functions", { key: a.key, body: { name: "kept", runtime: "edge" } });
    for (const text of ["v1", "v2", "v3"]) {
      const dep = await deploy(a.key, "kept", edgeSource(text));
      expect(dep.status, dep.body).toBe(202);
      expect(dep.json.status, dep.body).toBe("succeeded");
    }
    const versions = await t.call("GET", "/v1/functions/kept/versions", { key: a.key });
    expect(versions.json.items.map((v: { version: number }) => v.version).sort()).toEqual([2, 3]);
    // canary pins v2, live pins v3: nothing can go.
    const pin = await t.call("PUT", "/v1/functions/kept/aliases/canary", {
      key: a.key,
      body: { routing: [{ version: 2, weight: 100 }] },
    });
    expect(pin.status, pin.body).toBe(200);
    const refused = expectError(await deploy(a.key, "kept", edgeSource("v4")), 409, "FN_006");
    expect(refused.message).toMatch(/"versionsPerFunction"/);
    expect(refused.details).toEqual({ quota: "versionsPerFunction", limit: 2, used: 2 });
  });

  it("quotas - build minutes per day: deploys stop once the day's build time reaches the quota", async () => {
    const a = await t.tenant();
    await t.call("POST", "/v1/functions", { key: a.key, body: { name: "built", runtime: "edge" } });
    expect((await deploy(a.key, "built")).status).toBe(202);
    // A three-minute build earlier today (a container build's length; edge bundles take milliseconds).
    const fn = await t.call("GET", "/v1/functions/built", { key: a.key });
    const now = Date.now();
    const startedAt = new Date(Math.max(now - 180_000, now - (now % 86_400_000)));
    await t.gateway.database.db
      .insertInto("deployments")
      .values({
        id: `dep_quota_${randomBytes(4).toString("hex")}`,
        tenant_id: a.id,
        function_id: fn.json.id,
        status: "succeeded",
        source_kind: "files",
        created_at: startedAt,
        finished_at: new Date(now),
      } as never)
      .execute();
    await setQuotas(a.name, { buildMinutesPerDay: 1 });
    const refused = expectError(await deploy(a.key, "built"), 409, "FN_006");
    expect(refused.message).toMatch(/"buildMinutesPerDay"/);
    const details = refused.details as { limit: number; used: number };
    expect(details.limit).toBe(1);
    expect(details.used).toBeGreaterThanOrEqual(1);
    expect((await usage(a.key)).buildMinutesPerDay.used).toBeGreaterThanOrEqual(1);
    await setQuotas(a.name, { buildMinutesPerDay: 60 });
    expect((await deploy(a.key, "built")).status).toBe(202);
  });

  it("quotas - stored bytes: sources and logs count; over the quota a deploy is refused", async () => {
    const a = await t.tenant();
    await t.call("POST", "/v1/functions", { key: a.key, body: { name: "stored", runtime: "edge" } });
    expect((await deploy(a.key, "stored")).status).toBe(202);
    const before = await usage(a.key);
    expect(before.storedBytes.used).toBeGreaterThan(0);
    expect(before.storedBytesDetail.sources).toBe(before.storedBytes.used);
    await setQuotas(a.name, { storedBytes: before.storedBytes.used });
    const refused = expectError(await deploy(a.key, "stored"), 409, "FN_006");
    expect(refused.message).toMatch(/"storedBytes"/);
    expect(refused.details).toEqual({
      quota: "storedBytes",
      limit: before.storedBytes.used,
      used: before.storedBytes.used,
    });
  });
});

describe("tenant quotas - runtime (FN_007)", () => {
  it("quotas - invocations per day: the next one is 429 FN_007 naming the quota, with Retry-After", async () => {
    const a = await t.tenant();
    await t.call("POST", "/v1/functions", { key: a.key, body: { name: "daily", runtime: "edge" } });
    expect((await deploy(a.key, "daily", { files: { "index.ts": SLOW } })).status).toBe(202);
    await setQuotas(a.name, { invocationsPerDay: 3 });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof t.call>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await t.call("GET", `/fn/${a.name}/daily/`);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const error = expectError(last as Awaited<ReturnType<typeof t.call>>, 429, "FN_007");
    expect(error.message).toMatch(/"invocationsPerDay".*3 of 3/);
    const retryAfter = Number(last?.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    // Async invocations count too, and step runs.
    const queued = await t.call("POST", "/v1/functions/daily/invoke", {
      key: a.key,
      headers: { "kumo-invocation-type": "async" },
    });
    expectError(queued, 429, "FN_007");
    expectError(await t.call("POST", "/v1/functions/daily/run", { key: a.key, body: {} }), 429, "FN_007");
    const used = await usage(a.key);
    expect(used.invocationsPerDay.limit).toBe(3);
    expect(used.invocationsPerDay.used).toBeGreaterThanOrEqual(3);
  });

  it("quotas - invocations per day survive a restart: a new gateway starts from the metrics rollups", async () => {
    const a = await t.tenant();
    await t.call("POST", "/v1/functions", { key: a.key, body: { name: "counted", runtime: "edge" } });
    expect((await deploy(a.key, "counted", { files: { "index.ts": SLOW } })).status).toBe(202);
    for (let i = 0; i < 3; i++) expect((await t.call("GET", `/fn/${a.name}/counted/`)).status).toBe(200);
    await t.gateway.flushRecords();
    await new Promise((r) => setTimeout(r, 1500)); // rollups are written every second
    await setQuotas(a.name, { invocationsPerDay: 3 });
    // The second gateway never saw these invocations: it counts them from the rollups.
    const res = await second.app.inject({ method: "GET", url: `/fn/${a.name}/counted/` });
    expect(res.statusCode, res.body).toBe(429);
    expect(JSON.parse(res.body).error.message).toMatch(/invocationsPerDay/);
  });

  it("quotas - concurrency: held across two gateways within the gossip interval", async () => {
    const a = await t.tenant();
    await t.call("POST", "/v1/functions", { key: a.key, body: { name: "slow", runtime: "edge" } });
    expect((await deploy(a.key, "slow", { files: { "index.ts": SLOW } })).status).toBe(202);
    await setQuotas(a.name, { concurrency: 2 });
    // Warm the isolate, so the slow calls below overlap for their whole sleep.
    expect((await t.call("GET", `/fn/${a.name}/slow/`)).status).toBe(200);
    const onA = t.call("GET", `/fn/${a.name}/slow/?ms=1500`);
    const onB = second.app.inject({ method: "GET", url: `/fn/${a.name}/slow/?ms=1500` });
    await new Promise((r) => setTimeout(r, 400)); // > the 50 ms sync interval: both know of both
    const onFirst = await t.call("GET", `/fn/${a.name}/slow/`);
    const error = expectError(onFirst, 429, "FN_007");
    expect(error.message).toMatch(/"concurrency".*2 of 2/);
    expect(onFirst.headers["retry-after"]).toBe("1");
    const onSecond = await second.app.inject({ method: "GET", url: `/fn/${a.name}/slow/` });
    expect(onSecond.statusCode, onSecond.body).toBe(429);
    expect((await usage(a.key)).concurrency).toEqual({ limit: 2, used: 2 });
    expect((await onA).status).toBe(200);
    expect((await onB).statusCode).toBe(200);
    // Slots are released: after the next gossip both gateways admit again.
    await new Promise((r) => setTimeout(r, 300));
    expect((await t.call("GET", `/fn/${a.name}/slow/`)).status).toBe(200);
    expect((await second.app.inject({ method: "GET", url: `/fn/${a.name}/slow/` })).statusCode).toBe(200);
    // The other gateway's release arrives with its next exchange (50 ms, longer on a loaded machine).
    await expect
      .poll(async () => (await usage(a.key)).concurrency, { timeout: 5000 })
      .toEqual({ limit: 2, used: 0 });
  });

  it("quotas - a tenant without quotas of its own gets the installation's defaults (unlimited here)", async () => {
    const a = await t.tenant();
    const res = await t.call("GET", `/v1/tenants/${a.name}/quotas`, { key: a.key });
    expect(res.json.quotas).toEqual({
      functions: null,
      versionsPerFunction: null,
      concurrency: null,
      invocationsPerDay: null,
      buildMinutesPerDay: null,
      storedBytes: null,
    });
    expect(res.json.effective).toEqual(res.json.quotas);
  });
});

describe("usage", () => {
  it("usage - the caller's tenant's use against each quota; the platform admin names the tenant", async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    await setQuotas(a.name, { functions: 5, invocationsPerDay: 100 });
    await t.call("POST", "/v1/functions", { key: a.key, body: { name: "used", runtime: "edge" } });
    expect((await deploy(a.key, "used")).status).toBe(202);
    const viewer = await t.key(a.name, a.key, "viewer");
    const own = await usage(viewer.key);
    expect(Object.keys(own).sort()).toEqual(
      [
        "buildMinutesPerDay",
        "concurrency",
        "functions",
        "invocationsPerDay",
        "storedBytes",
        "storedBytesDetail",
        "versionsPerFunction",
      ].sort(),
    );
    expect(own.functions).toEqual({ limit: 5, used: 1 });
    expect(own.versionsPerFunction).toEqual({ limit: null, used: 1 });
    expect(own.invocationsPerDay.limit).toBe(100);
    const asAdmin = await t.call("GET", `/v1/usage?tenant=${a.name}`, { key: t.adminKey });
    expect(asAdmin.status, asAdmin.body).toBe(200);
    expect(asAdmin.json.tenant).toBe(a.name);
    expect(asAdmin.json.usage.functions).toEqual({ limit: 5, used: 1 });
    expect(expectError(await t.call("GET", "/v1/usage", { key: t.adminKey }), 400, "FN_006").message).toMatch(
      /tenant=/,
    );
    // B sees only its own; naming A is "not found".
    expect((await usage(b.key)).functions).toEqual({ limit: null, used: 0 });
    expectError(await t.call("GET", `/v1/usage?tenant=${a.name}`, { key: b.key }), 404, "FN_001");
  });
});
