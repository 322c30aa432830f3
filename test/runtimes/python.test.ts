import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectBodyRules, expectHttpEventRules, expectResultRules } from "./http-event-rules.ts";
import {
  ensureRuntimeImages,
  type RunningFunction,
  RuntimeHarness,
  SETUP_TIMEOUT_MS,
  waitForLog,
} from "./runtime-harness.ts";

// A pure-Python package vendored in the code dir, a sync handler (main.py) and an async one (aio.py).
const files: Record<string, string> = {
  "helpers/__init__.py": "def shout(text):\n    return text.upper() + '!'\n",
  "main.py": `
import base64, json, logging, os, sys
from helpers import shout

def handler(event, context):
    print("python got", event.get("rawPath"))
    logging.warning("warned %s", context.invocation_id)
    path = event.get("rawPath")
    if path == "/throw":
        raise ValueError("kaboom from python")
    if path == "/binary":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": event["body"], "isBase64Encoded": event["isBase64Encoded"]}
    if path == "/text":
        return "plain text"
    if path == "/status":
        return {"statusCode": json.loads(event["queryStringParameters"]["s"]), "body": "x"}
    if path == "/cookies":
        return {"statusCode": "202", "headers": {"X-Upper": "v", "x-null": None},
                "multiValueHeaders": {"x-multi": ["a", "b"]}, "cookies": ["s=1; Path=/", "t=2"], "body": {"ok": True}}
    if path == "/auth":
        return {"statusCode": 200, "body": json.dumps({"auth": context.auth})}
    if path == "/bad-base64":
        return {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True}
    return {"statusCode": 201, "headers": {"x-dep": shout("dep"), "x-env": os.environ.get("GREETING", "")},
            "body": json.dumps({"event": event, "remaining": context.get_remaining_time_in_millis() > 0})}
`,
  "aio.py": `
import asyncio

async def handler(event, context):
    await asyncio.sleep(0.01)
    print("async got", context.event_type)
    return {"eventType": context.event_type, "event": event}

async def step(input, context):
    await asyncio.sleep(0.01)
    return {"output": {"async": True, "n": input["n"]}, "nextPath": "async-path"}
`,
  "steps.py": `
class Branch(Exception):
    next_path = "manual-review"

def step(input, context):
    print("step got", input)
    if input.get("fail") == "branch":
        raise Branch("needs a human")
    if input.get("fail"):
        raise ValueError("step failed: " + input["fail"])
    fields = {k: v for k, v in context.items()}
    return {"n": input["n"], "context": fields}
`,
};

const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe("runtime python - shim", () => {
  const harness = new RuntimeHarness();
  let sync: RunningFunction;
  let aio: RunningFunction;
  let steps: RunningFunction;

  beforeAll(async () => {
    await ensureRuntimeImages(["python"]);
    const dockerfile = "FROM kumo/runtime-python:latest\nCOPY . /var/task/\nENV KUMO_CODE_DIR=/var/task\n";
    const image = await harness.buildImage({ ...files, Dockerfile: dockerfile });
    [sync, aio, steps] = await Promise.all([
      harness.start(image, { env: { KUMO_HANDLER: "main.handler", GREETING: "hi" } }),
      harness.start(image, { env: { KUMO_HANDLER: "aio.handler" } }),
      harness.start(image, { env: { KUMO_HANDLER: "steps.step" } }),
    ]);
  }, SETUP_TIMEOUT_MS);
  afterAll(() => harness.cleanup());

  const stepRequest = (invocationId: string, body: unknown) => ({
    method: "POST",
    path: "/invoke",
    headers: {
      "kumo-event-type": "step",
      "kumo-invocation-id": invocationId,
      "kumo-deadline-ms": String(Date.now() + 30_000),
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });

  it("step shape - def step(input, context): caller's context, platform fields, default path and logs", async () => {
    const context = {
      workflowId: "wf-p",
      runId: "r-1",
      stepId: "s-1",
      previous: [1],
      env: { A: "b" },
      function: "f",
      version: 2,
    };
    const res = await steps.request(stepRequest("inv-ps1", { input: { n: 5 }, context }));
    expect([res.status, res.headers["kumo-step"]]).toEqual([200, "1"]);
    const body = res.json() as {
      output: { n: number; context: Record<string, unknown> };
      nextPath: string;
      logs: { level: string; message: string }[];
    };
    expect(body.nextPath).toBe("default");
    expect(body.output.n).toBe(5);
    expect(body.output.context).toMatchObject({
      workflowId: "wf-p",
      runId: "r-1",
      stepId: "s-1",
      trigger: null,
      previous: [1],
      env: { A: "b" },
      invocationId: "inv-ps1",
      function: "f",
      version: 2,
    });
    expect(body.output.context.deadline).toBeGreaterThan(Date.now());
    expect(body.output.context.auth).toBeNull();
    expect(body.logs).toEqual([expect.objectContaining({ level: "info", message: "step got {'n': 5}" })]);
  });

  it("context.auth - the gateway's verified claims: context.auth from kumo-auth-claims, step context['auth'] from the body", async () => {
    const claims = { sub: "user-7", scope: "orders:read" };
    const lambda = await sync.request({
      path: "/invoke/auth",
      headers: { "kumo-auth-claims": JSON.stringify(claims) },
    });
    expect(lambda.json()).toEqual({ auth: claims });
    expect((await sync.request({ path: "/invoke/auth" })).json()).toEqual({ auth: null });
    const step = await steps.request(
      stepRequest("inv-ps-auth", { input: { n: 1 }, context: { auth: claims } }),
    );
    expect((step.json() as { output: { context: { auth: unknown } } }).output.context.auth).toEqual(claims);
  });

  it("step shape - an exception is FN_004 on the error path, or on its own next_path; async steps choose a path", async () => {
    const failed = await steps.request(stepRequest("inv-ps2", { input: { fail: "no stock" } }));
    expect([failed.status, failed.headers["kumo-error"], failed.headers["kumo-step"]]).toEqual([
      500,
      "FN_004",
      "1",
    ]);
    expect(failed.json()).toMatchObject({
      code: "FN_004",
      message: "step failed: no stock",
      nextPath: "error",
    });
    expect((failed.json() as { stack: string }).stack).toContain("ValueError");
    const branch = await steps.request(stepRequest("inv-ps3", { input: { fail: "branch" } }));
    expect(branch.json()).toMatchObject({
      code: "FN_004",
      message: "needs a human",
      nextPath: "manual-review",
    });
    const async = await aio.request(stepRequest("inv-ps4", { input: { n: 7 } }));
    expect(async.json()).toMatchObject({ output: { async: true, n: 7 }, nextPath: "async-path" });
    // A step-only module refuses plain invocations with a message that says how to call it.
    const plain = await steps.request({ path: "/invoke/x" });
    expect([plain.status, (plain.json() as { message: string }).message]).toEqual([
      500,
      expect.stringContaining("POST /v1/functions/:name/run"),
    ]);
  });

  it("healthz - 200 once the baked handler is loaded", async () => {
    const res = await sync.request({ path: "/healthz" });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ state: "ready", runtime: "python" });
  });

  it("http event - API-Gateway-v2 shape, vendored module, env and result headers", async () => {
    const res = await sync.request({
      method: "POST",
      path: "/invoke/items?a=1&a=2",
      headers: {
        "kumo-invocation-id": "inv-p1",
        "kumo-deadline-ms": String(Date.now() + 30_000),
        "content-type": "application/json",
        "x-custom": "yes",
      },
      body: JSON.stringify({ hello: "world" }),
    });
    expect(res.status).toBe(201);
    expect(res.headers["x-dep"]).toBe("DEP!");
    expect(res.headers["x-env"]).toBe("hi");
    const { event, remaining } = res.json() as { event: Record<string, unknown>; remaining: boolean };
    expect(remaining).toBe(true);
    expect(event).toMatchObject({
      version: "2.0",
      rawPath: "/items",
      rawQueryString: "a=1&a=2",
      queryStringParameters: { a: "1,2" },
      headers: { "x-custom": "yes", "kumo-invocation-id": "inv-p1" },
      requestContext: { http: { method: "POST", path: "/items" }, requestId: "inv-p1" },
      body: '{"hello":"world"}',
      isBase64Encoded: false,
    });
  });

  // The same cases as the JS runtimes' suite (js-runtime-suite.ts): the rules of runtimes/shared.
  it("http event - repeated query values comma-joined, cookies split out, headers lower-cased and joined", async () => {
    await expectHttpEventRules(sync, "inv-p3");
  });

  it("http event - a body without content type is text if UTF-8, else base64; a non-JSON event is text", async () => {
    await expectBodyRules(sync, aio);
  });

  it("lambda result - cookies are set-cookie, multiValueHeaders repeat, an object body is JSON", async () => {
    await expectResultRules(sync);
  });

  it("binary body - base64 in the event and back out byte for byte", async () => {
    const res = await sync.request({
      method: "POST",
      path: "/invoke/binary",
      headers: { "content-type": "application/octet-stream" },
      body: binary,
    });
    expect(res.status).toBe(200);
    expect(Buffer.compare(res.body, binary)).toBe(0);
    const text = await sync.request({ path: "/invoke/text" });
    expect(text.body.toString()).toBe("plain text");
    // As Lambda answers a string result: the text, typed application/json.
    expect(text.headers["content-type"]).toBe("application/json");
  });

  it("handler error - 500 FN_004 with the traceback, and the shim keeps serving", async () => {
    const res = await sync.request({ path: "/invoke/throw", headers: { "kumo-invocation-id": "inv-p2" } });
    expect(res.status).toBe(500);
    expect(res.headers["kumo-error"]).toBe("FN_004");
    const body = res.json() as { code: string; message: string; stack: string };
    expect(body).toMatchObject({ code: "FN_004", message: "kaboom from python" });
    expect(body.stack).toContain("ValueError");
    expect((await sync.request({ path: "/invoke/ok" })).status).toBe(201);
  });

  it("status - a statusCode that is not a final HTTP status is a 500 FN_004 naming it", async () => {
    for (const status of [100, 101, 199, 600, "1e3", -1, 200.5, true]) {
      const s = encodeURIComponent(JSON.stringify(status));
      const res = await sync.request({ path: `/invoke/status?s=${s}`, timeoutMs: 3000 });
      expect([res.status, res.headers["kumo-error"]], String(status)).toEqual([500, "FN_004"]);
      expect((res.json() as { message: string }).message).toContain(`statusCode ${JSON.stringify(status)} `);
    }
  });

  it("logs - print and logging become JSON lines tagged with the invocation id", async () => {
    await sync.request({ path: "/invoke/logme", headers: { "kumo-invocation-id": "inv-plog" } });
    const printed = await waitForLog(sync, (l) => l.invocationId === "inv-plog" && l.level === "info");
    expect(printed.message).toBe("python got /logme");
    const warned = await waitForLog(sync, (l) => l.invocationId === "inv-plog" && l.level === "warn");
    expect(warned.message).toContain("warned inv-plog");
  });

  it("async handler - event invocation with kumo-event-type; concurrent calls keep their ids", async () => {
    const calls = ["a", "b", "c"].map((n) =>
      aio.request({
        method: "POST",
        path: "/invoke",
        headers: {
          "kumo-event-type": "queue",
          "kumo-invocation-id": `inv-q-${n}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ n }),
      }),
    );
    const results = await Promise.all(calls);
    for (const [i, res] of results.entries()) {
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ eventType: "queue", event: { n: ["a", "b", "c"][i] } });
    }
    const line = await waitForLog(aio, (l) => l.invocationId === "inv-q-b");
    expect(line.message).toBe("async got queue");
  });

  it("stem cell - a generic container loads code from a read-only mount on /init", async () => {
    const cell = await harness.start("kumo/runtime-python:latest", { codeMount: harness.writeCode(files) });
    expect((await cell.request({ path: "/invoke/x" })).status).toBe(503);
    const bad = await cell.request({
      method: "POST",
      path: "/init",
      body: JSON.stringify({ codeDir: "/code", handler: "nope.handler" }),
    });
    expect(bad.status).toBe(500);
    expect(bad.json()).toMatchObject({ code: "FN_008" });
    const init = await cell.request({
      method: "POST",
      path: "/init",
      body: JSON.stringify({ codeDir: "/code", handler: "main.handler", env: { GREETING: "from-init" } }),
    });
    expect(init.status).toBe(200);
    const res = await cell.request({ path: "/invoke/hello" });
    expect(res.status).toBe(201);
    expect(res.headers["x-env"]).toBe("from-init");
    expect((await cell.request({ method: "POST", path: "/init", body: "{}" })).status).toBe(409);
  });
});
