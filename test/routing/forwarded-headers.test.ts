import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { createFunction, deploy, expectError } from "./routing-helpers.ts";

/** Answers the URL it was called with and the forwarding headers it got; `/logout` redirects as Hono's c.redirect does. */
const ECHO = `export default { fetch(req) {
  const url = new URL(req.url);
  if (url.pathname === "/logout") return new Response(null, { status: 302, headers: { location: "/login" } });
  const h = (name) => req.headers.get(name);
  return Response.json({
    url: req.url,
    path: url.pathname,
    query: url.search,
    xff: h("x-forwarded-for"),
    proto: h("x-forwarded-proto"),
    host: h("x-forwarded-host"),
    prefix: h("x-forwarded-prefix"),
    forwarded: h("forwarded"),
    realIp: h("x-real-ip"),
  });
} }`;

/** A Lambda handler answering its event's requestContext.http. */
const LAMBDA = `export async function handler(event: any) {
  return { statusCode: 200, body: JSON.stringify(event.requestContext.http) };
}`;

const APPS = "kumo.localhost";

/**
 * The gateway's forwarding headers on every entry to a function (/fn, tenant routes, function
 * hosts), and `<function>.<tenant>.<apps domain>` serving the live alias at the root path. Requests
 * go through inject: its peer is 127.0.0.1 unless `remoteAddress` names another.
 */
describe("forwarded headers and function hosts", () => {
  let t: TestGateway;
  let off: TestGateway;
  let a: { name: string; id: string; key: string };

  const request = async (
    url: string,
    headers: Record<string, string> = {},
    remoteAddress?: string,
  ): Promise<{ status: number; headers: Record<string, unknown>; json: Record<string, string | null> }> => {
    const res = await t.gateway.app.inject({
      method: "GET",
      url,
      headers,
      ...(remoteAddress ? { remoteAddress } : {}),
    });
    let json: Record<string, string | null> = {};
    try {
      json = JSON.parse(res.body);
    } catch {}
    return { status: res.statusCode, headers: res.headers, json };
  };

  beforeAll(async () => {
    t = await startTestGateway({ edge: true, env: { KUMO_TRUSTED_PROXIES: "10.0.0.0/8" } });
    a = await t.tenant();
    await createFunction(t, a.key, "echo");
    await deploy(t, a.key, "echo", ECHO);
    await createFunction(t, a.key, "lam");
    await deploy(t, a.key, "lam", LAMBDA);
    for (const [path, target] of [
      ["/api/*", "echo"],
      ["/users/:id", "echo"],
    ] as const) {
      const res = await t.call("POST", "/v1/routes", {
        key: a.key,
        body: { method: "ANY", path, function: target },
      });
      expect(res.status, JSON.stringify(res.json)).toBe(201);
    }
  });
  afterAll(async () => {
    await Promise.all([t?.close(), off?.close()]);
  });

  it("forwarded headers - /fn strips the prefix and says so; the client's X-Forwarded-* are replaced", async () => {
    const res = await request(`/fn/${a.name}/echo/a/b?x=1`, {
      host: "gw.example:8080",
      "x-forwarded-for": "6.6.6.6",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "evil.example",
      "x-forwarded-prefix": "/evil",
      forwarded: "for=6.6.6.6",
      "x-real-ip": "6.6.6.6",
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      url: "http://gw.example:8080/a/b?x=1",
      path: "/a/b",
      query: "?x=1",
      xff: "127.0.0.1",
      proto: "http",
      host: "gw.example:8080",
      prefix: `/fn/${a.name}/echo`,
      forwarded: 'for=127.0.0.1;host="gw.example:8080";proto=http',
      realIp: "127.0.0.1",
    });
    // The bare function URL and an explicit alias.
    expect((await request(`/fn/${a.name}/echo`)).json).toMatchObject({
      path: "/",
      prefix: `/fn/${a.name}/echo`,
    });
    expect((await request(`/fn/${a.name}/echo@live/x`)).json).toMatchObject({
      path: "/x",
      prefix: `/fn/${a.name}/echo@live`,
    });
  });

  it("forwarded headers - tenant routes: the /r/ prefix and what the route consumed", async () => {
    const viaPrefix = await request(`/r/${a.name}/api/items/7?y=2`, { "x-forwarded-for": "6.6.6.6" });
    expect(viaPrefix.json).toMatchObject({ path: "/items/7", query: "?y=2", xff: "127.0.0.1" });
    expect(viaPrefix.json.prefix).toBe(`/r/${a.name}/api`);
    const host = `${a.name}.${APPS}`;
    const viaHost = await request("/api/items/7", { host });
    expect(viaHost.json).toMatchObject({ path: "/items/7", host, prefix: "/api", proto: "http" });
    // A route without a wildcard passes "/" and consumed the whole path.
    expect((await request("/users/42", { host })).json).toMatchObject({ path: "/", prefix: "/users/42" });
  });

  it("function hosts - <function>.<tenant>.<apps domain> serves the live alias at the root path, without a prefix", async () => {
    const host = `echo.${a.name}.${APPS}`;
    const res = await request("/docs/openapi.json?v=3", { host, "x-forwarded-prefix": "/evil" });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      url: `http://${host}/docs/openapi.json?v=3`,
      path: "/docs/openapi.json",
      query: "?v=3",
      xff: "127.0.0.1",
      proto: "http",
      host,
      prefix: null,
      forwarded: `for=127.0.0.1;host="${host}";proto=http`,
      realIp: "127.0.0.1",
    });
    expect((await request("/", { host: `${host}:8080` })).json).toMatchObject({ path: "/", prefix: null });
    // Unknown functions and tenants are not found; three labels are neither a tenant nor a function host
    expectError(await t.call("GET", "/", { headers: { host: `nope.${a.name}.${APPS}` } }), 404, "FN_001");
    expectError(
      await t.call("GET", "/", { headers: { host: `echo.no-such-tenant.${APPS}` } }),
      404,
      "FN_001",
    );
    // (so the platform's own paths answer: "/" is the console, /anything its 404).
    const deep = await t.call("GET", "/anything", { headers: { host: `x.echo.${a.name}.${APPS}` } });
    expect(expectError(deep, 404, "FN_001").message).toContain("see /docs");
  });

  it("function hosts - an absolute redirect (Location: /login) lands under the function", async () => {
    const host = `echo.${a.name}.${APPS}`;
    const redirect = await request("/logout", { host });
    expect(redirect.status).toBe(302);
    const location = new URL(String(redirect.headers.location), `http://${host}/logout`);
    expect(location.href).toBe(`http://${host}/login`);
    const followed = await request(location.pathname, { host: location.host });
    expect(followed.status).toBe(200);
    expect(followed.json).toMatchObject({ path: "/login", url: `http://${host}/login` });
    // Through /fn the same Location leaves the function; the prefix header is what lets it build /fn/.../login.
    const viaFn = await request(`/fn/${a.name}/echo/logout`);
    expect(viaFn.headers.location).toBe("/login");
  });

  it("function hosts - GET /v1/functions/:name presents hostUrl next to the unchanged url", async () => {
    const res = await t.call("GET", "/v1/functions/echo", { key: a.key });
    expect(res.status).toBe(200);
    expect(res.json.url).toMatch(new RegExp(`/fn/${a.name}/echo/$`));
    const hostUrl = new URL(res.json.hostUrl);
    expect(hostUrl.hostname).toBe(`echo.${a.name}.${APPS}`);
    expect(hostUrl.pathname).toBe("/");
    expect(new URL(res.json.url).port).toBe(hostUrl.port);
    const list = await t.call("GET", "/v1/functions", { key: a.key });
    expect(list.json.items.map((f: { hostUrl: string }) => f.hostUrl)).toContain(res.json.hostUrl);
  });

  it("forwarded headers - a trusted proxy's chain is kept and the proxy appended; what the client wrote left of it is dropped", async () => {
    const fromProxy = {
      "x-forwarded-for": "6.6.6.6, 203.0.113.9, 10.1.2.3",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "app.example.com",
      "x-forwarded-prefix": "/outer/",
    };
    const res = await request(`/fn/${a.name}/echo/p`, fromProxy, "10.0.0.5");
    expect(res.json).toMatchObject({
      xff: "203.0.113.9, 10.1.2.3, 10.0.0.5",
      proto: "https",
      host: "app.example.com",
      prefix: `/outer/fn/${a.name}/echo`,
      forwarded: 'for=203.0.113.9;host="app.example.com";proto=https, for=10.1.2.3, for=10.0.0.5',
    });
    // A proxy that sent no X-Forwarded-For: the proxy is the client.
    expect((await request(`/fn/${a.name}/echo/p`, {}, "10.0.0.5")).json.xff).toBe("10.0.0.5");
    // IPv6 peers, quoted in Forwarded.
    const v6 = await request(`/fn/${a.name}/echo/p`, { host: "h" }, "2001:db8::1");
    expect(v6.json).toMatchObject({
      xff: "2001:db8::1",
      forwarded: 'for="[2001:db8::1]";host="h";proto=http',
    });
    // The same headers from an untrusted peer are all replaced.
    const spoofed = await request(`/fn/${a.name}/echo/p`, fromProxy, "198.51.100.4");
    expect(spoofed.json).toMatchObject({ xff: "198.51.100.4", proto: "http", prefix: `/fn/${a.name}/echo` });
  });

  it("forwarded headers - the Lambda event's sourceIp is the client address as the gateway determined it", async () => {
    const direct = await request(`/fn/${a.name}/lam/x`, { "x-forwarded-for": "6.6.6.6" }, "198.51.100.4");
    expect(direct.status).toBe(200);
    expect(direct.json).toMatchObject({ method: "GET", path: "/x", sourceIp: "198.51.100.4" });
    const proxied = await request(`/fn/${a.name}/lam/x`, { "x-forwarded-for": "203.0.113.9" }, "10.0.0.5");
    expect(proxied.json.sourceIp).toBe("203.0.113.9");
    const onHost = await request("/", { host: `lam.${a.name}.${APPS}` }, "198.51.100.7");
    expect(onHost.json).toMatchObject({ path: "/", sourceIp: "198.51.100.7" });
    // The management invoke route sets them too.
    const invoked = await t.call("POST", "/v1/functions/lam/invoke", {
      key: a.key,
      headers: { "x-forwarded-for": "6.6.6.6" },
    });
    expect(invoked.json.sourceIp).toBe("127.0.0.1");
  });

  it("function hosts - KUMO_FUNCTION_HOSTS=off: two-label hosts are not served and no hostUrl is presented", async () => {
    off = await startTestGateway({ env: { KUMO_FUNCTION_HOSTS: "off" } });
    const b = await off.tenant();
    await createFunction(off, b.key, "echo");
    const fn = await off.call("GET", "/v1/functions/echo", { key: b.key });
    expect(fn.json.url).toMatch(/\/fn\//);
    expect(fn.json).not.toHaveProperty("hostUrl");
    // Not a tenant host either: the platform's own 404 for an unknown path.
    expectError(
      await off.call("GET", "/anything", { headers: { host: `echo.${b.name}.${APPS}` } }),
      404,
      "FN_001",
    );
  });
});
