import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FunctionLogLine } from "@kumo/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEdgeProvider, type EdgeProvider } from "./edge-provider.ts";
import { edgeTarget, invokeEdge } from "./edge-test-kit.ts";

let provider: EdgeProvider;
const lateLogs = new Map<string, FunctionLogLine[]>();

beforeAll(async () => {
  provider = await createEdgeProvider({ hosts: 1, onLateLogs: (id, logs) => lateLogs.set(id, logs) });
});
afterAll(async () => {
  await provider?.stop();
});

describe("edge provider - handler shapes", () => {
  it("shapes - Workers style default { fetch(request, env, ctx) } with env and request body", async () => {
    const target = await edgeTarget(
      `export default { async fetch(request: Request, env: Record<string, string>) {
        const body = await request.json() as { n: number };
        return Response.json({ n: body.n * 2, method: request.method, url: request.url, greeting: env.GREETING,
          ua: request.headers.get("User-Agent") }, { status: 201, headers: { "x-kumo": "yes" } });
      } };`,
      { env: { GREETING: "hello" } },
    );
    const res = await invokeEdge(provider, target, {
      method: "POST",
      url: "/calc?x=1",
      headers: { "content-type": "application/json", "user-agent": "vitest" },
      body: JSON.stringify({ n: 21 }),
    });
    expect(res.status).toBe(201);
    expect(res.header("x-kumo")).toBe("yes");
    expect(res.json()).toEqual({
      n: 42,
      method: "POST",
      url: "http://fn.test/calc?x=1",
      greeting: "hello",
      ua: "vitest",
    });
    expect(res.result.coldStart).toBe("cold");
    const again = await invokeEdge(provider, target, { method: "POST", body: `{"n":1}` });
    expect(again.result.coldStart).toBe("warm");
  });

  it("shapes - default async function handler(request) returning a Response", async () => {
    const target = await edgeTarget(`export default async function handler(request: Request) {
      return new Response("path=" + new URL(request.url).pathname);
    }`);
    const res = await invokeEdge(provider, target, { url: "/a/b" });
    expect(res.text).toBe("path=/a/b");
  });

  it("shapes - Lambda style handler(event, context) with { statusCode, headers, body }", async () => {
    const target = await edgeTarget(`export async function handler(event: any, context: any) {
      return { statusCode: 202, headers: { "X-Id": context.invocationId }, body: { path: event.rawPath,
        q: event.queryStringParameters.q, m: event.requestContext.http.method, body: event.body } };
    }`);
    const res = await invokeEdge(provider, target, {
      method: "PUT",
      url: "/p?q=v",
      body: "text",
      invocationId: "inv-lambda",
    });
    expect(res.status).toBe(202);
    expect(res.header("x-id")).toBe("inv-lambda");
    expect(res.json()).toEqual({ path: "/p", q: "v", m: "PUT", body: "text" });
  });

  it("shapes - a string result is the body as application/json (as on Lambda), an object JSON, undefined is 204; event triggers get the JSON event", async () => {
    const text = await edgeTarget(`export async function handler() { return "plain"; }`);
    const res = await invokeEdge(provider, text);
    expect([res.status, res.text, res.header("content-type")]).toEqual([200, "plain", "application/json"]);
    const json = await edgeTarget(
      `export const handler = async (event: any) => ({ got: event.type, items: [1, 2] });`,
    );
    const event = await invokeEdge(provider, json, {
      trigger: "event",
      method: "POST",
      body: JSON.stringify({ type: "order.created" }),
    });
    expect(event.json()).toEqual({ got: "order.created", items: [1, 2] });
    const none = await edgeTarget(`export default { fetch() { return undefined; } };`);
    expect((await invokeEdge(provider, none)).status).toBe(204);
  });

  it("shapes - a handler that throws is FN_004 with the tenant's stack only", async () => {
    const target = await edgeTarget(`function inner() { throw new TypeError("boom"); }
      export default { fetch() { inner(); return new Response("no"); } };`);
    const res = await invokeEdge(provider, target);
    expect(res.status).toBe(500);
    expect(res.json()).toEqual({ error: { code: "FN_004", message: "TypeError: boom" } });
    const stack = (res.result.error?.details as { stack: string } | undefined)?.stack;
    // Mapped through the bundle's source map to the user's file (edge-source-map.test.ts).
    expect(stack).toMatch(/TypeError: boom\n\s+at inner \(index\.ts:1:\d+\)/);
    expect(stack).not.toMatch(/bootstrap|node:|isolated-vm/);
  });

  it("shapes - a module without a handler export is FN_005 naming the accepted shapes", async () => {
    const target = await edgeTarget(`export const nothing = 1;`);
    const res = await invokeEdge(provider, target);
    expect(res.result.error?.code).toBe("FN_005");
    expect(res.result.error?.message).toMatch(/Kumo accepts: export default \{ fetch \} \(Workers\)/);
  });
});

describe("edge provider - entry paths", () => {
  it("entry - settled, pending and CPU-heavy handlers (moved off the host's thread) all answer correctly", async () => {
    const target = await edgeTarget(`export default { async fetch(request: Request) {
      const url = new URL(request.url);
      const ms = Number(url.searchParams.get("burn") ?? 0);
      const until = Date.now() + ms;
      while (Date.now() < until) {}
      if (url.searchParams.has("wait")) await new Promise((r) => setTimeout(r, 2));
      return new Response(url.search, { headers: { "x-b": "2", "x-a": "1" } });
    } };`);
    const paths = ["?plain", "?wait", "?burn=5", "?after-burn", "?wait&after", "?burn=3&wait", "?last"];
    for (const path of paths) {
      const res = await invokeEdge(provider, target, { url: `/${path}` });
      expect([res.status, res.text, res.result.headers]).toEqual([
        200,
        path,
        [
          ["content-type", "text/plain;charset=UTF-8"],
          ["x-a", "1"],
          ["x-b", "2"],
        ],
      ]);
    }
    const concurrent = await Promise.all(
      paths.map((path) => invokeEdge(provider, target, { url: `/${path}` }).then((r) => r.text)),
    );
    expect(concurrent).toEqual(paths);
  });

  it("entry - headers and bodies cross the channel intact (non-ASCII, binary, empty)", async () => {
    const target = await edgeTarget(`export default { async fetch(request: Request) {
      const bytes = new Uint8Array(await request.arrayBuffer());
      if (request.headers.get("x-mode") === "binary") return new Response(bytes.map((b) => 255 - b));
      if (request.headers.get("x-mode") === "empty") return new Response(null, { status: 204 });
      return new Response("héllo ✓ " + new TextDecoder().decode(bytes) + " " + request.headers.get("x-note"));
    } };`);
    const text = await invokeEdge(provider, target, {
      method: "POST",
      headers: { "x-note": "naïve\u00e9" },
      body: "日本語\n\u0000x",
    });
    expect(text.text).toBe("héllo ✓ 日本語\n\u0000x naïve\u00e9");
    const binary = await invokeEdge(provider, target, {
      method: "POST",
      headers: { "x-mode": "binary" },
      body: new Uint8Array([0, 1, 10, 254, 255]),
    });
    expect(Array.from(binary.result.body as Uint8Array)).toEqual([255, 254, 245, 1, 0]);
    const empty = await invokeEdge(provider, target, { method: "POST", headers: { "x-mode": "empty" } });
    expect([empty.status, (empty.result.body as Uint8Array).byteLength]).toEqual([204, 0]);
  });
});

describe("edge provider - web platform", () => {
  it("web - URL, URLSearchParams, TextEncoder/Decoder, atob/btoa, structuredClone, Headers, crypto", async () => {
    const target = await edgeTarget(`export default { async fetch() {
      const u = new URL("https://Example.com:8443/a/../b?x=1&y=two#h");
      u.searchParams.append("z", "3 4");
      const bytes = new TextEncoder().encode("héllo");
      const h = new Headers([["Set-Cookie", "a=1"], ["set-cookie", "b=2"], ["X-A", "1"]]);
      h.append("x-a", "2");
      const clone = structuredClone({ d: new Date(0), m: new Map([[1, "one"]]), s: new Set([1]) });
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("abc")));
      const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
      const rnd = crypto.getRandomValues(new Uint8Array(16));
      return Response.json({
        href: u.href, host: u.host, y: u.searchParams.get("y"),
        len: bytes.length, back: new TextDecoder().decode(bytes),
        b64: btoa("hi!"), unb64: atob("aGkh"),
        cookies: h.getSetCookie(), xa: h.get("x-a"),
        clone: [clone.d instanceof Date, clone.m.get(1), clone.s.has(1)],
        hex, rnd: rnd.length, uuid: /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
        timer: await new Promise((r) => setTimeout(() => r("fired"), 5)),
      });
    } };`);
    const res = await invokeEdge(provider, target);
    expect(res.json()).toEqual({
      href: "https://example.com:8443/b?x=1&y=two&z=3+4#h",
      host: "example.com:8443",
      y: "two",
      len: 6,
      back: "héllo",
      b64: "aGkh",
      unb64: "hi!",
      cookies: ["a=1", "b=2"],
      xa: "1, 2",
      clone: [true, "one", true],
      hex: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      rnd: 16,
      uuid: true,
      timer: "fired",
    });
  });

  it("web - HMAC verifies a webhook signature (and rejects a forged one)", async () => {
    const target = await edgeTarget(
      `export default { async fetch(request: Request, env: { WEBHOOK_SECRET: string }) {
        const body = await request.text();
        const sig = request.headers.get("x-signature") ?? "";
        const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(env.WEBHOOK_SECRET),
          { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
        const bytes = new Uint8Array(sig.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
        const ok = await crypto.subtle.verify("HMAC", key, bytes, new TextEncoder().encode(body));
        const mine = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
        return Response.json({ ok, mine: Array.from(mine, (b) => b.toString(16).padStart(2, "0")).join("") }, { status: ok ? 200 : 401 });
      } };`,
      { env: { WEBHOOK_SECRET: "s3cret" } },
    );
    const payload = JSON.stringify({ event: "push" });
    const signature = createHmac("sha256", "s3cret").update(payload).digest("hex");
    const good = await invokeEdge(provider, target, {
      method: "POST",
      body: payload,
      headers: { "x-signature": signature },
    });
    expect(good.status).toBe(200);
    expect(good.json()).toEqual({ ok: true, mine: signature });
    const forged = await invokeEdge(provider, target, {
      method: "POST",
      body: payload,
      headers: { "x-signature": "00".repeat(32) },
    });
    expect(forged.status).toBe(401);
  });

  it("web - console lines are captured per invocation, capped, and waitUntil logs arrive late", async () => {
    const target = await edgeTarget(`export default { fetch(request: Request, env: unknown, ctx: any) {
      console.log("hello", { a: 1 }, [1, 2]);
      console.warn("careful");
      if (request.url.endsWith("/many")) for (let i = 0; i < 1000; i++) console.log("line " + i);
      ctx.waitUntil(new Promise((r) => setTimeout(r, 20)).then(() => console.error("after response")));
      return new Response("ok");
    } };`);
    const res = await invokeEdge(provider, target, { invocationId: "inv-logs" });
    expect(res.result.logs.map((l) => [l.level, l.message])).toEqual([
      ["info", "hello { a: 1 } [ 1, 2 ]"],
      ["warn", "careful"],
    ]);
    await expect.poll(() => lateLogs.get("inv-logs")?.map((l) => l.message)).toEqual(["after response"]);
    const many = await invokeEdge(provider, target, { url: "/many" });
    expect(many.result.logs.length).toBeLessThanOrEqual(201);
    expect(many.result.logs.at(-1)?.message).toMatch(/log lines dropped/);
  });
});

describe("edge provider - fetch bridge (operator allows localhost)", () => {
  let server: Server;
  let port = 0;
  let allowed: EdgeProvider;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/redirect-metadata") {
        res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" }).end();
      } else if (req.url === "/redirect-local") {
        res.writeHead(301, { location: "/hello" }).end();
      } else if (req.url === "/big") {
        res.end(Buffer.alloc(2 * 1024 * 1024, 97));
      } else {
        res
          .writeHead(200, { "content-type": "text/plain", "x-upstream": "1" })
          .end(`upstream ${req.method} ${req.url}`);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    allowed = await createEdgeProvider({
      hosts: 1,
      spareIsolates: 1,
      fetch: { allowedHosts: ["localhost"], maxSubrequests: 3, maxResponseBytes: 1024 * 1024 },
    });
  });
  afterAll(async () => {
    await allowed?.stop();
    await new Promise((resolve) => server.close(resolve));
  });

  const fetcher = (path: string) =>
    edgeTarget(
      `export default { async fetch(request: Request) {
        try {
          const r = await fetch(${JSON.stringify(`http://localhost:PORT${path}`)}.replace("PORT", new URL(request.url).searchParams.get("port") ?? ""));
          return Response.json({ status: r.status, text: (await r.text()).slice(0, 40), redirected: r.redirected, up: r.headers.get("x-upstream") });
        } catch (e) { return Response.json({ error: String(e) }); }
      } };`,
      { config: { egress: true } },
    );

  it("fetch - reaches an operator-allowed local server and follows a local redirect", async () => {
    const res = await invokeEdge(allowed, await fetcher("/redirect-local"), { url: `/?port=${port}` });
    expect(res.json()).toEqual({ status: 200, text: "upstream GET /hello", redirected: true, up: "1" });
  });

  it("fetch - a redirect to the metadata address is refused at that hop", async () => {
    const res = await invokeEdge(allowed, await fetcher("/redirect-metadata"), { url: `/?port=${port}` });
    expect(res.json<{ error: string }>().error).toMatch(/169\.254\.169\.254 refused/);
  });

  it("fetch - a response larger than the policy's limit fails the fetch", async () => {
    const res = await invokeEdge(allowed, await fetcher("/big"), { url: `/?port=${port}` });
    expect(res.json<{ error: string }>().error).toMatch(/exceeds 1048576 bytes/);
  });

  it("logs - concurrent invocations keep their own lines across awaits, timers and fetches", async () => {
    const target = await edgeTarget(
      `export default { async fetch(request: Request) {
        const url = new URL(request.url);
        const n = url.searchParams.get("n");
        console.log("start " + n);
        await request.text();
        console.log("after body " + n);
        await new Promise((r) => setTimeout(r, (Number(n) % 5) + 1));
        console.log("after timer " + n);
        await (await fetch("http://localhost:" + url.searchParams.get("port") + "/n" + n)).text();
        console.log("after fetch " + n);
        return new Response(n);
      } };`,
      // CPU is counted per isolate and 30 invocations share it: a loaded machine must not fail them.
      { config: { egress: true, cpuMs: 2000 } },
    );
    const runs = await Promise.all(
      Array.from({ length: 30 }, (_, n) =>
        invokeEdge(allowed, target, { method: "POST", url: `/?n=${n}&port=${port}`, body: `${n}` }),
      ),
    );
    for (const [n, run] of runs.entries()) {
      expect(run.text).toBe(String(n));
      expect(run.result.logs.map((l) => l.message)).toEqual([
        `start ${n}`,
        `after body ${n}`,
        `after timer ${n}`,
        `after fetch ${n}`,
      ]);
    }
  });

  it("fetch - subrequests per invocation are capped", async () => {
    const target = await edgeTarget(
      `export default { async fetch(request: Request) {
        const port = new URL(request.url).searchParams.get("port");
        const out: string[] = [];
        for (let i = 0; i < 5; i++) {
          try { await fetch("http://localhost:" + port + "/n" + i); out.push("ok"); } catch (e) { out.push(String(e)); }
        }
        return Response.json(out);
      } };`,
      { config: { egress: true } },
    );
    const res = await invokeEdge(allowed, target, { url: `/?port=${port}` });
    const out = res.json<string[]>();
    expect(out.slice(0, 3)).toEqual(["ok", "ok", "ok"]);
    expect(out[3]).toMatch(/Too many subrequests/);
  });

  it("fetch - without egress: true a function cannot fetch at all", async () => {
    const target = await edgeTarget(`export default { async fetch() {
      try { await fetch("http://localhost:1/"); return new Response("reached"); } catch (e) { return new Response(String(e)); }
    } };`);
    const res = await invokeEdge(allowed, target);
    expect(res.text).toMatch(/egress/);
  });
});

describe("edge provider - code delivery", () => {
  it("code - a new version's first invocation carries its code; a host that dropped it asks again", async () => {
    // Two warm isolates per host, so the host keeps code for four versions.
    const small = await createEdgeProvider({ hosts: 1, spareIsolates: 1, maxIsolatesPerHost: 2 });
    try {
      const loads = new Map<string, number>();
      const counted = async (n: number) => {
        const target = await edgeTarget(`export default { fetch() { return new Response("v${n}"); } };`);
        const load = target.loadCode;
        target.loadCode = () => {
          loads.set(target.versionId, (loads.get(target.versionId) ?? 0) + 1);
          return load();
        };
        return target;
      };
      const first = await counted(1);
      const cold = await invokeEdge(small, first);
      expect([cold.status, cold.text, cold.result.coldStart]).toEqual([200, "v1", "cold"]);
      expect((await invokeEdge(small, first)).result.coldStart).toBe("warm");
      expect(loads.get(first.versionId)).toBe(1);
      expect(small.stats().hosts[0]?.codeRequests).toBe(0);

      for (let n = 2; n <= 7; n++) expect((await invokeEdge(small, await counted(n))).text).toBe(`v${n}`);
      expect(small.stats().hosts[0]?.codeRequests).toBe(0);

      const again = await invokeEdge(small, first);
      expect([again.status, again.text, again.result.coldStart]).toEqual([200, "v1", "cold"]);
      expect(small.stats().hosts[0]?.codeRequests).toBe(1);
      expect(loads.get(first.versionId)).toBe(2);
    } finally {
      await small.stop();
    }
  });
});
