import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { createEdgeFunction } from "./api-helpers.ts";

const DRAFT = `export default {
  async fetch(request: Request, env: Record<string, string>) {
    console.log("draft log", request.method, new URL(request.url).pathname);
    console.warn("header", request.headers.get("x-sample"));
    return Response.json({ body: await request.text(), greeting: env.GREETING, secret: env.DRAFT_SECRET });
  },
};`;

describe("draft runs", () => {
  let t: TestGateway;
  let admin: string;
  let viewer: string;

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    const tenant = await t.tenant();
    admin = tenant.key;
    viewer = (await t.key(tenant.name, admin, "viewer")).key;
    await createEdgeFunction(t, admin, "drafty", ["deployed one"]);
    expect(
      (await t.call("PUT", "/v1/secrets/DRAFT_SECRET", { key: admin, body: { value: "s3" } })).status,
    ).toBe(200);
    expect(
      (await t.call("PUT", "/v1/functions/drafty/env/GREETING", { key: admin, body: { value: "hej" } }))
        .status,
    ).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("draft runs - unsaved code runs with the function's env and secrets; no version, no invocation", async () => {
    const res = await t.call("POST", "/v1/functions/drafty/draft-runs", {
      key: admin,
      body: {
        files: { "index.ts": DRAFT },
        config: { secrets: ["DRAFT_SECRET"] },
        request: {
          method: "POST",
          path: "/x",
          query: "a=1",
          headers: { "X-Sample": "yes" },
          body: "payload",
        },
      },
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json.status).toBe(200);
    expect(JSON.parse(res.json.body)).toEqual({ body: "payload", greeting: "hej", secret: "s3" });
    expect(res.json.bodyEncoding).toBe("utf8");
    expect(res.json.error).toBeNull();
    expect(res.json.coldStart).toBe("cold");
    expect(res.json.durationMs).toBeGreaterThan(0);
    expect(res.json.logs.map((l: { level: string; message: string }) => `${l.level} ${l.message}`)).toEqual([
      "info draft log POST /x",
      "warn header yes",
    ]);
    await t.gateway.flushRecords();
    const versions = await t.call("GET", "/v1/functions/drafty/versions", { key: admin });
    expect(versions.json.items.map((v: { version: number }) => v.version)).toEqual([1]);
    const history = await t.call("GET", "/v1/functions/drafty/invocations", { key: admin });
    expect(history.json.items).toEqual([]);
    // The live version is untouched.
    const live = await t.call("POST", "/v1/functions/drafty/invoke", { key: admin });
    expect(live.body).toBe("deployed one");
  });

  it("draft runs - a handler that throws comes back as FN_004 with its logs", async () => {
    const res = await t.call("POST", "/v1/functions/drafty/draft-runs", {
      key: admin,
      body: {
        files: {
          "index.ts": "export default { fetch() { console.log('before'); throw new Error('boom') } }",
        },
      },
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json.status).toBe(500);
    expect(res.json.error.code).toBe("FN_004");
    expect(res.json.logs.some((l: { message: string }) => l.message === "before")).toBe(true);
  });

  it("draft runs - bad input is 4xx naming the field; code that does not compile is FN_005", async () => {
    const cases: [unknown, string][] = [
      [{}, "body.files"],
      [{ files: {} }, "body.files"],
      [{ files: { "index.ts": "x" }, request: { path: "no-slash" } }, "body.request.path"],
      [{ files: { "index.ts": "x" }, request: { method: "BREW" } }, "body.request.method"],
      [{ files: { "index.ts": "x" }, request: { headers: { "bad header": "1" } } }, "body.request.headers"],
      [{ files: { "index.ts": "x" }, extra: 1 }, "body"],
    ];
    for (const [body, field] of cases) {
      const res = await t.call("POST", "/v1/functions/drafty/draft-runs", { key: admin, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe("FN_006");
      expect(JSON.stringify(res.json.error), JSON.stringify(body)).toContain(field);
    }
    const container = await t.call("POST", "/v1/functions/drafty/draft-runs", {
      key: admin,
      body: { files: { "index.js": "module.exports = {}" }, config: { runtime: "node" } },
    });
    expect(container.status).toBe(400);
    expect(container.json.error.code).toBe("FN_006");
    expect(container.json.error.message).toContain("draft runs need the edge runtime");
    const broken = await t.call("POST", "/v1/functions/drafty/draft-runs", {
      key: admin,
      body: { files: { "index.ts": "export default { fetch() { return new Response('x' }" } },
    });
    expect(broken.status).toBe(422);
    expect(broken.json.error.code).toBe("FN_005");
  });

  it("draft runs - a viewer may not run drafts; the source of a version is readable", async () => {
    const denied = await t.call("POST", "/v1/functions/drafty/draft-runs", {
      key: viewer,
      body: { files: { "index.ts": DRAFT } },
    });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe("FN_009");
    const source = await t.call("GET", "/v1/functions/drafty/versions/1/source", { key: viewer });
    expect(source.status, source.body).toBe(200);
    expect(source.json.source).toBe("files");
    expect(Object.values(source.json.files).join("\n")).toContain("deployed one");
    const missing = await t.call("GET", "/v1/functions/drafty/versions/9/source", { key: viewer });
    expect(missing.status).toBe(404);
  });
});
