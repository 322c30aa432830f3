import { once } from "node:events";
import { type AddressInfo, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { Plane, waitFor } from "./plane.ts";
import { RAW_IMAGE_FILES } from "./raw-image.ts";

const ECHO = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/echo") {
      return new Response(await request.arrayBuffer(), { headers: { "content-type": "application/octet-stream" } });
    }
    const body = new Uint8Array(await request.arrayBuffer());
    console.log("hello log", url.pathname);
    return new Response(JSON.stringify({ path: url.pathname, q: url.search, bytes: body.length, greeting: env.GREETING ?? null }), {
      status: 201,
      headers: [["content-type", "application/json"], ["x-fn", "hello"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]],
    });
  },
};
`;

const STREAM = `export default {
  fetch() {
    const enc = new TextEncoder();
    let i = 0;
    const body = new ReadableStream({
      async pull(controller) {
        if (i === 3) return controller.close();
        if (i > 0) await new Promise((r) => setTimeout(r, 300));
        controller.enqueue(enc.encode("data: tick " + i++ + "\\n\\n"));
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  },
};
`;

const FAULTS = `export async function handler(event) {
  const path = event.rawPath;
  if (path === "/sleep") { await new Promise((r) => setTimeout(r, 5000)); return "late"; }
  if (path === "/spin") { for (;;) {} }
  if (path === "/exit") { process.exit(3); }
  if (path === "/oom") { const keep = []; for (;;) keep.push(Buffer.alloc(4 * 1024 * 1024, 1)); }
  if (path === "/throw") throw new Error("kaboom");
  if (path === "/slow") { await new Promise((r) => setTimeout(r, 800)); return "slow"; }
  return "ok";
}
`;

const STATUS = `export async function handler(event) {
  return { statusCode: JSON.parse(event.queryStringParameters.s), body: "x" };
}
`;

let plane: Plane;

beforeAll(async () => {
  plane = await new Plane({ autoscalerEnv: { KUMO_QUEUE_TIMEOUT: "300ms" } }).start();
  await Promise.all([
    plane.deploy("hello", "node", { "index.mjs": ECHO }, { env: { GREETING: "hi" } }),
    plane.deploy("stream", "node", { "index.mjs": STREAM }),
    plane.deploy("faults", "node", { "index.mjs": FAULTS }, { timeoutMs: 600, memoryMb: 64 }),
    // The same code with a timeout no cold start comes near, for the cases that are not about time:
    // a function's timeout counts from the request, so under load a replacement container's start
    // could use up 600 ms and turn an exit or OOM case's follow-up into FN_002.
    plane.deploy("crashes", "node", { "index.mjs": FAULTS }, { timeoutMs: 10_000, memoryMb: 64 }),
    plane.deploy("statuses", "node", { "index.mjs": STATUS }),
    plane.harness.buildImage(RAW_IMAGE_FILES).then((image) => plane.register("raw", "container", image)),
    plane.deploy(
      "narrow",
      "node",
      { "index.mjs": FAULTS },
      { scaling: { maxInstances: 1, concurrency: 1, maxConcurrency: 1 } },
    ),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await plane?.close();
}, SETUP_TIMEOUT_MS);

/** POSTs `size` patterned bytes to the echo function and checks they come back byte for byte. */
async function echoesBytes(size: number, step: number, shift: number): Promise<void> {
  const body = Buffer.alloc(size);
  for (let i = 0; i < body.length; i++) body[i] = (i * step + (i >> shift)) & 0xff;
  const res = await plane.gw.gateway.app.inject({
    method: "POST",
    url: `/fn/${plane.tenant.name}/hello/echo`,
    payload: body,
    headers: { "content-type": "application/octet-stream" },
  });
  expect(res.statusCode, res.body.slice(0, 200)).toBe(200);
  expect(res.rawPayload.equals(body)).toBe(true);
}

describe("invocation plane - sync", () => {
  it("sync - status, headers (repeated set-cookie), query and body reach the client intact", async () => {
    const res = await plane.invoke("hello", { path: "/a/b?x=1", body: "hello" });
    expect(res.status, res.body).toBe(201);
    expect(res.json).toMatchObject({ path: "/a/b", q: "?x=1", bytes: 5, greeting: "hi" });
    expect(res.headers["x-fn"]).toBe("hello");
    expect(res.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
    expect(["cold", "stem-cell"]).toContain(res.headers["kumo-cold-start"]);
    const again = await plane.invoke("hello", { body: "x" });
    expect(again.headers["kumo-cold-start"]).toBe("warm");
  });

  it("sync - a 10 MB binary body goes through NATS in chunks, both ways, byte for byte", async () => {
    await echoesBytes(10 * 1024 * 1024, 7, 11);
  });

  it("sync - with one node, invocations take its direct link instead of nats-server, bodies of several frames included", async () => {
    const node = plane.nodes[0]?.autoscaler;
    if (!node) throw new Error("no node");
    // The gateway links up once it has heard the node's heartbeat (every 2 s).
    await waitFor(
      "the gateway's direct link to the node",
      async () => {
        const before = node.status().syncOverLink;
        await plane.invoke("hello", { body: "x" });
        return node.status().syncOverLink > before;
      },
      10_000,
    );
    const before = node.status().syncOverLink;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => plane.invoke("hello", { path: `/n${i}`, body: "abc" })),
    );
    for (const [i, res] of results.entries()) {
      expect(res.status, res.body).toBe(201);
      expect(res.json).toMatchObject({ path: `/n${i}`, bytes: 3, greeting: "hi" });
    }
    // Several frames each way (a frame is at most NATS's max_payload), kept well under the
    // function's 128 MB: the 10 MB case above ran on the same instance a moment ago.
    await echoesBytes(4 * 1024 * 1024, 13, 9);
    expect(node.status().syncOverLink - before).toBe(21);
  });

  it("sync - a body over the function's limit is FN_010 before it reaches NATS", async () => {
    await plane.deploy("tiny", "node", { "index.mjs": ECHO }, { maxBodyBytes: 1000 });
    const res = await plane.invoke("tiny", { body: Buffer.alloc(2000) });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe("FN_010");
  });

  it("sync - a streaming (SSE) response reaches the client as it is produced", async () => {
    const address = await gatewayUrl();
    const res = await fetch(`${address}/fn/${plane.tenant.name}/stream/`);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body?.getReader();
    if (!reader) throw new Error("no body");
    const arrivals: { at: number; text: string }[] = [];
    const t0 = performance.now();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arrivals.push({ at: performance.now() - t0, text: Buffer.from(value).toString() });
    }
    const text = arrivals.map((a) => a.text).join("");
    expect(text).toBe("data: tick 0\n\ndata: tick 1\n\ndata: tick 2\n\n");
    // The first event arrived well before the last one was produced (~600 ms later).
    expect(arrivals.length).toBeGreaterThanOrEqual(2);
    expect((arrivals.at(-1)?.at ?? 0) - (arrivals[0]?.at ?? 0)).toBeGreaterThan(400);
  });

  it("sync - a status that is not a final HTTP status is FN_004 naming it, never a client left waiting", async () => {
    const address = await gatewayUrl();
    // A 1xx reaching the client leaves it waiting for a response that never comes: a short timeout
    // turns such a hang into a failure here.
    const get = async (path: string, timeoutMs = 3000) => {
      const res = await fetch(`${address}/fn/${plane.tenant.name}/${path}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      // The shim's FN_004 envelope is passed on as it wrote it; the platform's own is { error }. A
      // Lambda result's body ("x") is labelled application/json as on Lambda, whatever it holds.
      const body = (
        res.status >= 400 && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : {}
      ) as {
        error?: { code: string; message: string };
        code?: string;
        message?: string;
      };
      return { status: res.status, text, ...(body.error ?? body) };
    };
    await get("statuses/?s=200", 30_000); // started before the timed calls, as the custom image below
    for (const status of [100, 101, 102, 103, 199, 600, 1000, "1e3", -1, 200.5]) {
      const res = await get(`statuses/?s=${encodeURIComponent(JSON.stringify(status))}`);
      expect([res.status, res.code], String(status)).toEqual([500, "FN_004"]);
      expect(res.message).toContain(`statusCode ${JSON.stringify(status)} `);
    }
    // A custom image's own server, with no shim to refuse it, is checked by the autoscaler. Its
    // container is started first, so a slow cold start on a loaded machine is not taken for a hang.
    expect((await get("raw/?status=201", 30_000)).status).toBe(201);
    for (const status of [101, 600]) {
      const res = await get(`raw/?status=${status}`);
      expect([res.status, res.code], String(status)).toEqual([500, "FN_004"]);
      expect(res.message).toContain(`status ${status};`);
    }
    const ok = await get("raw/?status=201");
    expect([ok.status, ok.text]).toEqual([201, "raw"]);
  });

  it("sync - 100,000 response headers, 150 of them or a 10 MB header value are FN_010", async () => {
    for (const query of ["headers=100000", "headers=150", "big=1"]) {
      const res = await plane.invoke("raw", { path: `/?${query}`, method: "GET" });
      expect([res.status, res.json?.error?.code], query).toEqual([413, "FN_010"]);
      expect(res.headers["x-0"]).toBeUndefined();
    }
    const ok = await plane.invoke("raw", { path: "/?headers=90", method: "GET" });
    expect([ok.status, ok.headers["x-89"]]).toEqual([200, "v"]);
  });

  it("sync - a handler that throws is FN_004 and is recorded with its logs", async () => {
    const res = await plane.invoke("crashes", { path: "/throw" });
    expect(res.status).toBe(500);
    expect(res.headers["kumo-error"]).toBe("FN_004");
    const id = String(res.headers["kumo-invocation-id"]);
    await plane.gw.gateway.flushRecords();
    const record = await waitFor("the record", async () => {
      const r = await plane.gw.call("GET", `/v1/invocations/${id}`, { key: plane.tenant.key });
      return r.status === 200 && r.json.logs.length > 0 ? r : undefined;
    });
    expect(record.json).toMatchObject({ status: "failed", errorCode: "FN_004", trigger: "http" });
    expect(record.json.logs.some((l: { message: string }) => l.message.includes("kaboom"))).toBe(true);
  });

  it("sync - a timeout is FN_002; a hung instance (busy loop) is recycled, a waiting one kept", async () => {
    const slow = await plane.invoke("faults", { path: "/sleep" });
    expect(slow.status).toBe(504);
    expect(slow.json.error.code).toBe("FN_002");
    const fn = await functionContainers("faults");
    const spin = await plane.invoke("faults", { path: "/spin" });
    expect(spin.json.error.code).toBe("FN_002");
    // The spinning container stops answering /healthz and is removed; the function still works.
    await waitFor("the hung container to go", async () => {
      const now = await functionContainers("faults");
      return now.filter((c) => fn.some((f) => f.id === c.id)).length < fn.length || undefined;
    });
    const ok = await plane.invoke("faults", { path: "/" });
    expect(ok.status).toBe(200);
  });

  it("sync - a process exit is FN_004 and OOM is FN_003; the instance is replaced", async () => {
    const exit = await plane.invoke("crashes", { path: "/exit" });
    expect(exit.status).toBe(500);
    expect(exit.json.error.code).toBe("FN_004");
    expect(exit.json.error.message).toMatch(/exited with code 3/);
    const oom = await plane.invoke("crashes", { path: "/oom" });
    expect(oom.status).toBe(502);
    expect(oom.json.error.code).toBe("FN_003");
    const ok = await plane.invoke("crashes", { path: "/" });
    expect(ok.status).toBe(200);
    expect(ok.body).toBe("ok");
  });

  it("sync - over the function's max concurrency, requests queue briefly, then get FN_007 429", async () => {
    expect((await plane.invoke("narrow", { path: "/" })).status).toBe(200);
    const results = await Promise.all([0, 1, 2].map(() => plane.invoke("narrow", { path: "/slow" })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 429, 429]);
    const limited = results.find((r) => r.status === 429);
    expect(limited?.json.error.code).toBe("FN_007");
  });

  // Before the node's first heartbeat (1 s) the gateway does not know which node runs the call: the
  // cancel goes to every node; after it, to the node's own cancel subject.
  it.each([
    ["before", 300],
    ["after", 1800],
  ])(
    "sync - a caller that goes away %s the node's first heartbeat cancels the call there: its slot is free for the next caller at once",
    async (_when, leaveAfterMs) => {
      expect((await plane.invoke("narrow", { path: "/" })).status).toBe(200);
      const since = new Date();
      const { hostname, port } = new URL(await gatewayUrl());
      const socket = connect(Number(port), hostname);
      await once(socket, "connect");
      socket.write(`GET /fn/${plane.tenant.name}/narrow/sleep HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`);
      await new Promise((r) => setTimeout(r, leaveAfterMs));
      socket.destroy();
      await new Promise((r) => setTimeout(r, 300));
      // The handler sleeps 5 s; had its slot stayed taken, this call would queue and get FN_007.
      const next = await plane.invoke("narrow", { path: "/" });
      expect(next.status, next.body).toBe(200);
      const record = await waitFor("the cancelled invocation's record", async () => {
        await plane.gw.gateway.flushRecords();
        return plane.gw.gateway.database.db
          .selectFrom("invocations")
          .select(["status", "error_code", "duration_ms"])
          .where("tenant_id", "=", plane.tenant.id)
          .where("started_at", ">=", since)
          .where("status", "=", "failed")
          .where("error_code", "=", "FN_008")
          .executeTakeFirst();
      });
      expect(record.duration_ms ?? 0).toBeLessThan(leaveAfterMs + 1500);
    },
  );
});

/** The gateway over a real socket: inject cannot show a client left waiting. */
async function gatewayUrl(): Promise<string> {
  const app = plane.gw.gateway.app;
  if (!app.server.listening) return app.listen({ port: 0, host: "127.0.0.1" });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function functionContainers(name: string) {
  const store = plane.gw.gateway.context.platform.tenant(plane.tenant.id);
  const fn = await store.functions.byName(name);
  const version = fn ? await store.versions.latest(fn.id) : undefined;
  const all = await plane.containers();
  return all.filter(
    (c) =>
      c.state === "running" &&
      (c.labels["dev.kumo.version-id"] === version?.id || c.labels["dev.kumo.role"] === "stem-cell"),
  );
}
