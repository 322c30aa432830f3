import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { LOG_TRUNCATED_MARK, purgeLogs } from "@kumo/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEdgeFunction, expectError } from "../api/api-helpers.ts";
import { Plane, waitFor } from "../invocation/plane.ts";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { type CallResult, startTestGateway, type TestGateway } from "../support/test-gateway.ts";

/** Every console method, and a JSON line that names its own level and carries fields. */
const EDGE_LOGGER = `export default { async fetch(request) {
  const url = new URL(request.url);
  const tag = url.searchParams.get("tag") ?? "none";
  if (url.pathname === "/flood") {
    for (let i = 0; i < 100; i++) console.log("flood " + i + " " + "x".repeat(80));
    return new Response("flooded");
  }
  console.debug("dbg " + tag);
  console.info("inf " + tag);
  console.log("log " + tag);
  console.warn("wrn " + tag);
  console.error("err " + tag);
  console.log(JSON.stringify({ level: "warn", msg: "structured " + tag, user: { id: 42 }, tag }));
  return new Response("ok");
} };`;

const NODE_LOGGER = `export default { async fetch(request) {
  const url = new URL(request.url);
  if (url.pathname === "/flood") {
    for (let i = 0; i < 200; i++) console.log("flood " + i + " " + "y".repeat(100));
    return new Response("flooded");
  }
  console.debug("n-debug");
  console.info("n-info");
  console.warn("n-warn");
  console.error("n-error");
  process.stderr.write("n-stderr\\n");
  console.log(JSON.stringify({ level: "error", msg: "n-json", orderId: 7 }));
  return new Response("ok");
} };
`;

const PY_LOGGER = `import json, logging, sys
def handler(event, context):
    logging.info("p-info")
    logging.warning("p-warning")
    logging.error("p-error")
    print("p-print")
    print("p-stderr", file=sys.stderr)
    print(json.dumps({"severity": "WARNING", "msg": "p-json", "cart": [1, 2]}))
    return {"statusCode": 200, "body": "ok"}
`;

const DAY_MS = 86_400_000;
const EDGE_CAP = 2048;
const CONTAINER_CAP = 4096;

let t: TestGateway;
let a: { name: string; id: string; key: string };
let b: { name: string; id: string; key: string };
let plane: Plane;

interface LogLine {
  ts: string;
  invocationId: string | null;
  version: number | null;
  level: string;
  message: string;
  fields: Record<string, unknown> | null;
}

async function invokeEdge(path: string): Promise<string> {
  const res = await t.call("GET", `/fn/${a.name}/logger${path}`);
  expect(res.status, res.body).toBe(200);
  return String(res.headers["kumo-invocation-id"]);
}

function logs(query: string, key = a.key, fn = "logger"): Promise<CallResult> {
  return t.call("GET", `/v1/functions/${fn}/logs?${query}`, { key });
}

/** The stored lines of one invocation, oldest first, once `count` of them are there. */
async function linesOf(
  call: (q: string) => Promise<CallResult>,
  invocationId: string,
  count: number,
): Promise<LogLine[]> {
  return waitFor(`${count} log lines of ${invocationId}`, async () => {
    const res = await call(`invocationId=${invocationId}&order=asc&limit=500`);
    expect(res.status, res.body).toBe(200);
    return res.json.items.length >= count ? (res.json.items as LogLine[]) : undefined;
  });
}

beforeAll(async () => {
  t = await startTestGateway({ edge: true, env: { KUMO_LOG_CAP_BYTES: String(EDGE_CAP) } });
  a = await t.tenant();
  b = await t.tenant();
  await createEdgeFunction(t, a.key, "logger");
  const dep = await t.call("POST", "/v1/functions/logger/deployments", {
    key: a.key,
    body: { files: { "index.ts": EDGE_LOGGER } },
  });
  expect(dep.json.status, dep.body).toBe("succeeded");
  await createEdgeFunction(t, b.key, "logger", ["b"]);

  plane = await new Plane({
    langs: ["node", "python"],
    autoscalerEnv: { KUMO_LOG_CAP_BYTES: String(CONTAINER_CAP) },
  }).start();
  await Promise.all([
    plane.deploy("node-logger", "node", { "index.mjs": NODE_LOGGER }),
    plane.deploy("py-logger", "python", { "main.py": PY_LOGGER }, {}, "main.handler"),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await t?.close();
  await plane?.close();
}, SETUP_TIMEOUT_MS);

describe("function logs - levels and fields", () => {
  it("logs - edge console methods keep their level; a JSON line keeps its fields and its own level", async () => {
    const id = await invokeEdge("/levels?tag=lv1");
    const lines = await linesOf(logs, id, 6);
    expect(lines.map((l) => [l.level, l.message.startsWith("{") ? "json" : l.message])).toEqual([
      ["debug", "dbg lv1"],
      ["info", "inf lv1"],
      ["info", "log lv1"],
      ["warn", "wrn lv1"],
      ["error", "err lv1"],
      ["warn", "json"],
    ]);
    const json = lines[5] as LogLine;
    expect(json.fields).toEqual({ level: "warn", msg: "structured lv1", user: { id: 42 }, tag: "lv1" });
    expect(JSON.parse(json.message)).toEqual(json.fields);
    expect(lines.every((l) => l.version === 1 && l.invocationId === id)).toBe(true);
    expect(lines.slice(0, 5).every((l) => l.fields === null)).toBe(true);
  });

  it("logs - node container: console levels, stderr as error, a JSON line's level and fields", async () => {
    const res = await plane.invoke("node-logger");
    expect(res.status, res.body).toBe(200);
    const id = String(res.headers["kumo-invocation-id"]);
    const call = (q: string) =>
      plane.gw.call("GET", `/v1/functions/node-logger/logs?${q}`, { key: plane.tenant.key });
    const lines = await linesOf(call, id, 6);
    expect(lines.map((l) => [l.level, l.message.startsWith("{") ? "json" : l.message])).toEqual([
      ["debug", "n-debug"],
      ["info", "n-info"],
      ["warn", "n-warn"],
      ["error", "n-error"],
      ["error", "n-stderr"],
      ["error", "json"],
    ]);
    expect(lines[5]?.fields).toEqual({ level: "error", msg: "n-json", orderId: 7 });
    expect(lines.every((l) => l.version === 1)).toBe(true);
  });

  it("logs - python container: logging levels, print as info, stderr as error, JSON severity", async () => {
    const res = await plane.invoke("py-logger");
    expect(res.status, res.body).toBe(200);
    const id = String(res.headers["kumo-invocation-id"]);
    const call = (q: string) =>
      plane.gw.call("GET", `/v1/functions/py-logger/logs?${q}`, { key: plane.tenant.key });
    const lines = await linesOf(call, id, 6);
    expect(lines.map((l) => [l.level, l.message.startsWith("{") ? "json" : l.message])).toEqual([
      // The shim's logging handler keeps logging's default format (level:logger:message).
      ["info", "INFO:root:p-info"],
      ["warn", "WARNING:root:p-warning"],
      ["error", "ERROR:root:p-error"],
      ["info", "p-print"],
      ["error", "p-stderr"],
      ["warn", "json"],
    ]);
    expect(lines[5]?.fields).toEqual({ severity: "WARNING", msg: "p-json", cart: [1, 2] });
  });
});

describe("function logs - search", () => {
  let needle: string;
  let other: string;

  beforeAll(async () => {
    needle = await invokeEdge("/levels?tag=Needle-7f3");
    other = await invokeEdge("/levels?tag=50%25_off");
    await linesOf(logs, needle, 6);
    await linesOf(logs, other, 6);
  });

  it("logs - q is a case-insensitive substring, also of a JSON line's fields", async () => {
    const res = await logs("q=needle-7F3");
    expect(res.status, res.body).toBe(200);
    expect(res.json.items).toHaveLength(6);
    expect(res.json.items.every((l: LogLine) => l.invocationId === needle)).toBe(true);
    const inJson = await logs(`q=${encodeURIComponent('"id":42')}&invocationId=${needle}`);
    expect(inJson.json.items.map((l: LogLine) => l.level)).toEqual(["warn"]);
  });

  it("logs - % and _ in q match themselves, not any text", async () => {
    const literal = await logs(`q=${encodeURIComponent("50%_off")}`);
    expect(literal.json.items).toHaveLength(6);
    expect(literal.json.items.every((l: LogLine) => l.invocationId === other)).toBe(true);
    const wildcard = await logs(`q=${encodeURIComponent("n%7f3")}`);
    expect(wildcard.json.items).toHaveLength(0);
  });

  it("logs - level filters one level or several", async () => {
    const errors = await logs(`level=error&invocationId=${needle}`);
    expect(errors.json.items.map((l: LogLine) => l.message)).toEqual(["err Needle-7f3"]);
    const warnAndUp = await logs(`level=warn,error&invocationId=${needle}&order=asc`);
    expect(warnAndUp.json.items.map((l: LogLine) => l.level)).toEqual(["warn", "error", "warn"]);
  });

  it("logs - invocationId, version and time range narrow the search", async () => {
    const one = await logs(`invocationId=${other}`);
    expect(one.json.items).toHaveLength(6);
    expect((await logs(`invocationId=${needle}&version=1`)).json.items).toHaveLength(6);
    expect((await logs(`invocationId=${needle}&version=2`)).json.items).toHaveLength(0);
    const future = new Date(Date.now() + DAY_MS).toISOString();
    expect((await logs(`from=${future}`)).json.items).toHaveLength(0);
    expect((await logs(`invocationId=${needle}&from=1h&to=${future}`)).json.items).toHaveLength(6);
    expect((await logs(`invocationId=${needle}&to=2000-01-01T00:00:00Z`)).json.items).toHaveLength(0);
  });

  it("logs - another tenant's invocation id finds nothing in its own function", async () => {
    const res = await logs(`invocationId=${needle}`, b.key);
    expect(res.status).toBe(200);
    expect(res.json.items).toHaveLength(0);
    expectError(await logs("q=needle", b.key, "nope"), 404, "FN_001");
  });
});

describe("function logs - paging", () => {
  it("logs - cursor pages newest first cover every line once; asc the same lines oldest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await invokeEdge(`/levels?tag=page${i}`));
    for (const id of ids) await linesOf(logs, id, 6);
    const collect = async (order: string) => {
      const seen: LogLine[] = [];
      let cursor: string | null = null;
      do {
        const res: CallResult = await logs(
          `q=page&limit=5&order=${order}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        );
        expect(res.status, res.body).toBe(200);
        expect(res.json.items.length).toBeLessThanOrEqual(5);
        seen.push(...res.json.items);
        cursor = res.json.nextCursor;
      } while (cursor && seen.length < 100);
      return seen;
    };
    const desc = await collect("desc");
    expect(desc).toHaveLength(24);
    const times = desc.map((l) => Date.parse(l.ts));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    expect(desc[0]?.invocationId).toBe(ids[3]);
    expect(desc.at(-1)?.invocationId).toBe(ids[0]);
    const asc = await collect("asc");
    expect(asc.map((l) => l.message)).toEqual(desc.map((l) => l.message).reverse());
  });
});

describe("function logs - cap", () => {
  it("logs - an edge invocation's lines stop at the cap with one marker line", async () => {
    const id = await invokeEdge("/flood");
    const lines = await waitFor("the marker line", async () => {
      const got = await linesOf(logs, id, 1);
      return got.some((l) => l.fields?.kumo === LOG_TRUNCATED_MARK) ? got : undefined;
    });
    const marker = lines.at(-1) as LogLine;
    expect(marker.level).toBe("warn");
    expect(marker.fields).toEqual({ kumo: LOG_TRUNCATED_MARK, capBytes: EDGE_CAP });
    const kept = lines.slice(0, -1);
    expect(kept.reduce((n, l) => n + Buffer.byteLength(l.message), 0)).toBe(EDGE_CAP);
    expect(kept.length).toBeLessThan(100);
    expect(kept[0]?.message).toMatch(/^flood 0 x+$/);
  });

  it("logs - a container invocation's lines stop at the cap; the next invocation logs again", async () => {
    const flood = await plane.invoke("node-logger", { path: "/flood" });
    expect(flood.status, flood.body).toBe(200);
    const id = String(flood.headers["kumo-invocation-id"]);
    const call = (q: string) =>
      plane.gw.call("GET", `/v1/functions/node-logger/logs?${q}`, { key: plane.tenant.key });
    const lines = await waitFor("the container marker line", async () => {
      const got = await linesOf(call, id, 1);
      return got.some((l) => l.fields?.kumo === LOG_TRUNCATED_MARK) ? got : undefined;
    });
    // Lines of the stream after the marker are dropped: give them time to arrive, then count.
    await new Promise((r) => setTimeout(r, 500));
    const settled = await linesOf(call, id, lines.length);
    expect(settled.at(-1)?.fields).toEqual({ kumo: LOG_TRUNCATED_MARK, capBytes: CONTAINER_CAP });
    expect(settled.slice(0, -1).reduce((n, l) => n + Buffer.byteLength(l.message), 0)).toBe(CONTAINER_CAP);
    const next = await plane.invoke("node-logger");
    const after = await linesOf(call, String(next.headers["kumo-invocation-id"]), 6);
    expect(after.map((l) => l.message)).toContain("n-warn");
  });
});

describe("function logs - live tail", () => {
  it("logs - follow=1 streams only new lines that match level, q and invocationId", async () => {
    const app = t.gateway.app;
    const address = app.server.listening
      ? `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
      : await app.listen({ port: 0, host: "127.0.0.1" });
    const controller = new AbortController();
    const res = await fetch(`${address}/v1/functions/logger/logs?follow=1&level=error,warn&q=tail-hit`, {
      headers: { authorization: `Bearer ${a.key}` },
      signal: controller.signal,
    });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body?.getReader();
    if (!reader) throw new Error("no body");
    const events: LogLine[] = [];
    const reading = (async () => {
      let text = "";
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done || !value) return;
        text += Buffer.from(value).toString();
        for (let at = text.indexOf("\n\n"); at >= 0; at = text.indexOf("\n\n")) {
          const block = text.slice(0, at);
          text = text.slice(at + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (block.includes("event: log") && data) events.push(JSON.parse(data) as LogLine);
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    await invokeEdge("/levels?tag=tail-miss");
    const hit = await invokeEdge("/levels?tag=tail-hit");
    await waitFor("three live lines", async () => events.length >= 3);
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await reading;
    expect(events.map((e) => [e.level, e.invocationId])).toEqual([
      ["warn", hit],
      ["error", hit],
      ["warn", hit],
    ]);
    expect(events[2]?.fields).toMatchObject({ msg: "structured tail-hit" });

    const byId = await fetch(`${address}/v1/functions/logger/logs?follow=1&invocationId=${randomUUID()}`, {
      headers: { authorization: `Bearer ${a.key}` },
      signal: AbortSignal.timeout(2000),
    });
    expect(byId.status).toBe(200);
    await byId.body?.cancel();
  });
});

describe("function logs - export", () => {
  it("logs - export streams NDJSON, oldest first, with the search's filters", async () => {
    const fn = await t.gateway.context.platform.tenant(a.id).functions.byName("logger");
    if (!fn) throw new Error("no function");
    const invocationId = randomUUID();
    const base = Date.now() - 60_000;
    const rows = Array.from({ length: 2500 }, (_, i) => ({
      tenant_id: a.id,
      function_id: fn.id,
      invocation_id: invocationId,
      version: 1,
      ts: new Date(base + i),
      level: i % 10 === 0 ? "error" : "info",
      message: `export line ${i}`,
    }));
    await t.gateway.database.db.insertInto("logs").values(rows).execute();

    const res = await t.call("GET", `/v1/functions/logger/logs/export?invocationId=${invocationId}`, {
      key: a.key,
    });
    expect(res.status, res.body.slice(0, 300)).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/x-ndjson/);
    expect(String(res.headers["content-disposition"])).toMatch(/^attachment; filename="logger-logs-/);
    expect(res.headers["content-length"]).toBeUndefined();
    const lines = res.body
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as LogLine);
    expect(lines).toHaveLength(2500);
    expect(lines.map((l) => l.message)).toEqual(rows.map((r) => r.message));

    const errors = await t.call(
      "GET",
      `/v1/functions/logger/logs/export?invocationId=${invocationId}&level=error&q=${encodeURIComponent("line 1")}`,
      { key: a.key },
    );
    const got = errors.body
      .trimEnd()
      .split("\n")
      .map((l) => (JSON.parse(l) as LogLine).message);
    const expected = rows
      .filter((r) => r.level === "error" && r.message.includes("line 1"))
      .map((r) => r.message);
    expect(expected.length).toBeGreaterThan(100);
    expect(got).toEqual(expected);

    const none = await t.call("GET", `/v1/functions/logger/logs/export?invocationId=${randomUUID()}`, {
      key: a.key,
    });
    expect(none.status).toBe(200);
    expect(none.body).toBe("");
  });
});

describe("function logs - retention", () => {
  it("logs - purge deletes lines past each tenant's retention in batches, and nothing else", async () => {
    const db = t.gateway.database.db;
    const platform = t.gateway.context.platform;
    const fnA = await platform.tenant(a.id).functions.byName("logger");
    const fnB = await platform.tenant(b.id).functions.byName("logger");
    if (!fnA || !fnB) throw new Error("no functions");
    const now = Date.now();
    const row = (tenantId: string, functionId: string, ageDays: number, message: string) => ({
      tenant_id: tenantId,
      function_id: functionId,
      invocation_id: null,
      ts: new Date(now - ageDays * DAY_MS),
      level: "info",
      message,
    });
    await db
      .insertInto("logs")
      .values([
        ...Array.from({ length: 230 }, (_, i) => row(a.id, fnA.id, 40, `a-old-${i}`)),
        row(a.id, fnA.id, 29, "a-recent"),
        ...Array.from({ length: 20 }, (_, i) => row(b.id, fnB.id, 40, `b-old-${i}`)),
        row(b.id, fnB.id, 70, "b-ancient"),
      ])
      .execute();
    const patched = await t.call("PATCH", `/v1/tenants/${b.name}`, {
      key: t.adminKey,
      body: { logRetentionDays: 60 },
    });
    expect(patched.status, patched.body).toBe(200);
    expect(patched.json.tenant.logRetentionDays).toBe(60);

    const count = async (tenantId: string, like: string) =>
      Number(
        (
          await db
            .selectFrom("logs")
            .select(db.fn.countAll().as("n"))
            .where("tenant_id", "=", tenantId)
            .where("message", "like", like)
            .executeTakeFirstOrThrow()
        ).n,
      );
    // Two statements of 100 rows per call: 231 rows past retention take several calls.
    let deleted = 0;
    let calls = 0;
    for (let complete = false; !complete && calls < 10; calls++) {
      const pass = await purgeLogs(db, {
        defaultRetentionMs: 30 * DAY_MS,
        now,
        batchSize: 100,
        maxStatements: 2,
      });
      expect(pass.deleted).toBeLessThanOrEqual(200);
      deleted += pass.deleted;
      complete = pass.complete;
    }
    expect(deleted).toBe(231);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(await count(a.id, "a-old-%")).toBe(0);
    expect(await count(a.id, "a-recent")).toBe(1);
    expect(await count(b.id, "b-old-%")).toBe(20);
    expect(await count(b.id, "b-ancient")).toBe(0);

    // Back to the default: B's 40-day-old lines go too.
    await t.call("PATCH", `/v1/tenants/${b.name}`, { key: t.adminKey, body: { logRetentionDays: null } });
    expect((await purgeLogs(db, { defaultRetentionMs: 30 * DAY_MS, now })).deleted).toBe(20);
    expect(await count(b.id, "b-old-%")).toBe(0);
  });

  it("logs - only the platform admin sets a tenant's retention, within 1..3650 days", async () => {
    expectError(
      await t.call("PATCH", `/v1/tenants/${a.name}`, { key: a.key, body: { logRetentionDays: 5 } }),
      403,
      "FN_009",
    );
    const zero = expectError(
      await t.call("PATCH", `/v1/tenants/${a.name}`, { key: t.adminKey, body: { logRetentionDays: 0 } }),
      400,
      "FN_006",
    );
    expect(zero.message).toContain("body.logRetentionDays");
    expectError(
      await t.call("PATCH", "/v1/tenants/nobody-here", { key: t.adminKey, body: { logRetentionDays: 5 } }),
      404,
      "FN_001",
    );
  });
});

describe("function logs - bad input", () => {
  it.each([
    ["level=fatal", "querystring.level"],
    ["level=", "querystring.level"],
    ["from=yesterday-ish", "querystring.from"],
    ["to=nope", "querystring.to"],
    ["from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z", "querystring.to"],
    ["invocationId=abc", "querystring.invocationId"],
    ["version=0", "querystring.version"],
    ["limit=0", "querystring.limit"],
    ["order=sideways", "querystring.order"],
    [`q=${"x".repeat(201)}`, "querystring.q"],
    ["cursor=garbage", "cursor"],
  ])("logs - %s is a 400 FN_006 naming %s", async (query, field) => {
    const error = expectError(await logs(query), 400, "FN_006");
    expect(error.message).toContain(field);
  });

  it("logs - a cursor of one order is refused for the other", async () => {
    const page = await logs("limit=1&order=desc");
    expect(page.json.nextCursor).toBeTruthy();
    const error = expectError(
      await logs(`order=asc&cursor=${encodeURIComponent(page.json.nextCursor)}`),
      400,
      "FN_006",
    );
    expect(error.message).toContain("order");
  });

  it("logs - export refuses bad filters the same way", async () => {
    const error = expectError(
      await t.call("GET", "/v1/functions/logger/logs/export?level=loud", { key: a.key }),
      400,
      "FN_006",
    );
    expect(error.message).toContain("querystring.level");
  });
});
