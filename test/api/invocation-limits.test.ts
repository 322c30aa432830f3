import { randomBytes } from "node:crypto";
import { connectBus, type NatsConnection } from "@kumo/bus";
import { bundleEdgeFunction } from "@kumo/edge";
import { type Gateway, loadGatewayConfig, start } from "@kumo/gateway";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, TEST_NATS_URL, type TestGateway } from "../support/test-gateway.ts";
import { expectError } from "./api-helpers.ts";

const OK = `export default { fetch(req: Request) {
  return new Response("ran " + req.method, { headers: { "x-fn": "1" } });
} }`;

let t: TestGateway;
/** A second gateway on the same database and NATS; it trusts 127.0.0.1 as a proxy. */
let second: Gateway;
let secondNats: NatsConnection;
let tenant: { name: string; id: string; key: string };

async function deploy(name: string, config: Record<string, unknown>): Promise<void> {
  const created = await t.call("POST", "/v1/functions", { key: tenant.key, body: { name, runtime: "edge" } });
  expect(created.status, created.body).toBe(201);
  const dep = await t.call("POST", `/v1/functions/${name}/deployments`, {
    key: tenant.key,
    body: { files: { "index.ts": OK }, config },
  });
  expect(dep.status, dep.body).toBe(202);
  expect(dep.json.status, dep.body).toBe("succeeded");
}

interface Sent {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

async function send(
  gateway: Gateway,
  method: string,
  url: string,
  options: { remoteAddress?: string; headers?: Record<string, string> } = {},
): Promise<Sent> {
  const res = await gateway.app.inject({
    method: method as "GET",
    url,
    headers: options.headers ?? {},
    remoteAddress: options.remoteAddress ?? "127.0.0.1",
  });
  return { status: res.statusCode, headers: res.headers, body: res.body };
}

beforeAll(async () => {
  const env = { KUMO_RATE_LIMIT_SYNC: "50ms" };
  t = await startTestGateway({ edge: true, env });
  tenant = await t.tenant();
  secondNats = await connectBus({ url: TEST_NATS_URL, name: "kumo-test-second" });
  second = await start(
    loadGatewayConfig({
      KUMO_ADMIN_KEY: t.adminKey,
      KUMO_MASTER_KEY: randomBytes(32).toString("hex"),
      KUMO_DATA_DIR: `/tmp/kumo-test-${t.schema}-b`,
      KUMO_LOG_LEVEL: "silent",
      KUMO_PORT: "0",
      KUMO_TRUSTED_PROXIES: "127.0.0.1",
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
  await deploy("limited", { rateLimit: { requests: 5, per: "1m", by: "ip" } });
  await deploy("shared", { rateLimit: { requests: 60, per: "1m" } });
  await deploy("walled", { ipAllowlist: ["10.1.0.0/16", "2001:db8::/32"] });
  await deploy("browser", {
    cors: {
      origins: ["https://app.example.com"],
      methods: ["GET", "POST"],
      headers: ["content-type", "x-token"],
      exposeHeaders: ["x-fn"],
      credentials: true,
    },
  });
  await deploy("keyed", { httpAuth: "key" });
  await deploy("other", { httpAuth: "key" });
}, 120_000);

afterAll(async () => {
  await second?.stop();
  await secondNats?.close();
  await t?.close();
}, 60_000);

describe("invocation limits - rate limits", () => {
  it("rate limit - over the limit: 429 FN_007 with Retry-After and RateLimit headers; each address its own bucket", async () => {
    const url = `/fn/${tenant.name}/limited/`;
    const statuses: number[] = [];
    let last: Sent | undefined;
    for (let i = 0; i < 7; i++) {
      last = await send(t.gateway, "GET", url, { remoteAddress: "198.51.100.7" });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const refused = last as Sent;
    expect(JSON.parse(refused.body).error.code).toBe("FN_007");
    expect(JSON.parse(refused.body).error.message).toMatch(/5 requests per 1m/);
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers["ratelimit-limit"]).toBe("5");
    expect(refused.headers["ratelimit-remaining"]).toBe("0");
    expect(refused.headers["ratelimit-policy"]).toBe("5;w=60");
    const other = await send(t.gateway, "GET", url, { remoteAddress: "198.51.100.8" });
    expect(other.status).toBe(200);
    expect(other.headers["ratelimit-remaining"]).toBe("4");
  });

  it("rate limit - two gateways together admit the limit within the stated accuracy (limit + other's rate × sync)", async () => {
    const url = `/fn/${tenant.name}/shared/`;
    const gateways = [t.gateway, second];
    const limit = 60;
    const began = Date.now();
    let admitted = 0;
    let refused = 0;
    // Both gateways at once, each paced at one request per 10 ms: 150 requests, 2.5× the limit.
    await Promise.all(
      gateways.map(async (gateway) => {
        for (let i = 0; i < 75; i++) {
          const sent = Date.now();
          const res = await send(gateway, "GET", url);
          if (res.status === 200) admitted++;
          else if (res.status === 429) refused++;
          else throw new Error(`unexpected ${res.status} ${res.body}`);
          await new Promise((r) => setTimeout(r, Math.max(0, 10 - (Date.now() - sent))));
        }
      }),
    );
    const seconds = (Date.now() - began) / 1000;
    // The stated bound: what the other gateway admits within one sync interval (50 ms) plus bus
    // latency (allow 50 ms more on a loaded machine). Without the exchange each gateway would
    // admit the whole limit on its own: 120.
    const otherRate = 75 / seconds;
    const bound = Math.ceil(otherRate * 0.1);
    expect(admitted + refused).toBe(150);
    expect(admitted, `admitted ${admitted} in ${seconds}s; bound ${limit}+${bound}`).toBeGreaterThanOrEqual(
      limit,
    );
    expect(admitted).toBeLessThanOrEqual(limit + bound);
  });
});

describe("invocation limits - IP allowlist", () => {
  const url = () => `/fn/${tenant.name}/walled/`;

  it("ip allowlist - the socket address decides; X-Forwarded-For is ignored without trusted proxies", async () => {
    expect((await send(t.gateway, "GET", url(), { remoteAddress: "10.1.2.3" })).status).toBe(200);
    expect((await send(t.gateway, "GET", url(), { remoteAddress: "::ffff:10.1.200.9" })).status).toBe(200);
    expect((await send(t.gateway, "GET", url(), { remoteAddress: "2001:db8::7" })).status).toBe(200);
    const outside = await send(t.gateway, "GET", url(), { remoteAddress: "10.2.0.1" });
    expect(outside.status).toBe(403);
    expect(JSON.parse(outside.body).error).toMatchObject({ code: "FN_009" });
    expect(outside.body).not.toContain("10.1.0.0");
    const forged = await send(t.gateway, "GET", url(), {
      remoteAddress: "127.0.0.1",
      headers: { "x-forwarded-for": "10.1.2.3" },
    });
    expect(forged.status).toBe(403);
  });

  it("ip allowlist - behind a trusted proxy, the client from X-Forwarded-For decides", async () => {
    const viaProxy = (xff: string, remoteAddress = "127.0.0.1") =>
      send(second, "GET", url(), { remoteAddress, headers: { "x-forwarded-for": xff } });
    expect((await viaProxy("10.1.2.3")).status).toBe(200);
    // A client that writes its own header: the proxy appends the real address, which decides.
    expect((await viaProxy("10.1.2.3, 203.0.113.5")).status).toBe(403);
    // An untrusted peer's header is not believed, even on the gateway that trusts proxies.
    expect((await viaProxy("10.1.2.3", "203.0.113.5")).status).toBe(403);
  });
});

describe("invocation limits - CORS", () => {
  const url = () => `/fn/${tenant.name}/browser/x`;

  it("cors - the gateway answers an allowed preflight itself, with the configured headers", async () => {
    const res = await send(t.gateway, "OPTIONS", url(), {
      headers: {
        origin: "https://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, x-token",
      },
    });
    expect(res.status).toBe(204);
    expect(res.body).toBe("");
    expect(res.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    expect(res.headers["access-control-allow-methods"]).toBe("GET, POST");
    expect(res.headers["access-control-allow-headers"]).toBe("content-type, x-token");
    expect(res.headers["access-control-allow-credentials"]).toBe("true");
    expect(res.headers["access-control-max-age"]).toBe("600");
  });

  it("cors - a preflight from another origin or for another method gets no allow headers", async () => {
    for (const [origin, method] of [
      ["https://evil.example.com", "POST"],
      ["https://app.example.com", "DELETE"],
    ] as const) {
      const res = await send(t.gateway, "OPTIONS", url(), {
        headers: { origin, "access-control-request-method": method },
      });
      expect(res.status).toBe(204);
      expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    }
  });

  it("cors - actual requests carry the allow headers for allowed origins only; plain OPTIONS reaches the function", async () => {
    const allowed = await send(t.gateway, "GET", url(), { headers: { origin: "https://app.example.com" } });
    expect(allowed.body).toBe("ran GET");
    expect(allowed.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    expect(allowed.headers["access-control-allow-credentials"]).toBe("true");
    expect(allowed.headers["access-control-expose-headers"]).toBe("x-fn");
    const other = await send(t.gateway, "GET", url(), { headers: { origin: "https://evil.example.com" } });
    expect(other.body).toBe("ran GET");
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    const options = await send(t.gateway, "OPTIONS", url());
    expect(options.body).toBe("ran OPTIONS");
  });

  it("cors - kumo.json refuses credentials with origin *", async () => {
    const res = await t.call("PATCH", "/v1/functions/browser", {
      key: tenant.key,
      body: { config: { cors: { origins: ["*"], credentials: true } } },
    });
    expect(expectError(res, 400, "FN_006").message).toMatch(/cors\.credentials/);
  });
});

describe("invocation limits - scoped and expiring keys", () => {
  it("scoped key - invokes only its functions, over /fn and /v1, and can do nothing else", async () => {
    const issued = await t.call("POST", `/v1/tenants/${tenant.name}/api-keys`, {
      key: tenant.key,
      body: { role: "invoker", functions: ["keyed"] },
    });
    expect(issued.status, issued.body).toBe(201);
    expect(issued.json.functions).toEqual(["keyed"]);
    const key = issued.json.key;
    expect((await t.call("GET", `/fn/${tenant.name}/keyed/`, { key })).body).toBe("ran GET");
    expect((await t.call("POST", "/v1/functions/keyed/invoke", { key, body: "x" })).body).toBe("ran POST");
    const other = await t.call("GET", `/fn/${tenant.name}/other/`, { key });
    expect(expectError(other, 403, "FN_009").message).toMatch(/limited to other functions/);
    expectError(await t.call("POST", "/v1/functions/other/invoke", { key, body: "x" }), 403, "FN_009");
    const list = await t.call("GET", "/v1/functions", { key });
    expect(expectError(list, 403, "FN_009").message).toMatch(/limited to invoking/);
  });

  it("scoped key - only invoker keys can be scoped; unknown names in the list are refused by shape", async () => {
    const dev = await t.call("POST", `/v1/tenants/${tenant.name}/api-keys`, {
      key: tenant.key,
      body: { role: "developer", functions: ["keyed"] },
    });
    expect(expectError(dev, 400, "FN_006").message).toMatch(/functions/);
    const bad = await t.call("POST", `/v1/tenants/${tenant.name}/api-keys`, {
      key: tenant.key,
      body: { role: "invoker", functions: ["Not A Name"] },
    });
    expect(expectError(bad, 400, "FN_006").message).toMatch(/functions/);
  });

  it("expiring key - works until expiresAt, then 401 saying it expired (even while cached)", async () => {
    const past = await t.call("POST", `/v1/tenants/${tenant.name}/api-keys`, {
      key: tenant.key,
      body: { role: "invoker", expiresAt: new Date(Date.now() - 1000).toISOString() },
    });
    expect(expectError(past, 400, "FN_006").message).toMatch(/expiresAt/);
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const issued = await t.call("POST", `/v1/tenants/${tenant.name}/api-keys`, {
      key: tenant.key,
      body: { role: "invoker", expiresAt },
    });
    expect(issued.status, issued.body).toBe(201);
    expect(issued.json.expiresAt).toBe(expiresAt);
    const key = issued.json.key;
    expect((await t.call("GET", `/fn/${tenant.name}/keyed/`, { key })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    const late = await t.call("GET", `/fn/${tenant.name}/keyed/`, { key });
    expect(expectError(late, 401, "FN_009").message).toMatch(/expired/);
    expectError(await t.call("GET", "/v1/functions", { key }), 401, "FN_009");
  });
});
