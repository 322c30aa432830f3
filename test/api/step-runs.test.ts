import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";

const STEP = `
export async function step(input: { n?: number; fail?: string; spin?: boolean }, context: Record<string, unknown>) {
  console.log("step", JSON.stringify(input));
  if (input.fail) throw Object.assign(new Error(input.fail), input.fail === "branch" ? { nextPath: "fallback" } : {});
  if (input.spin) for (;;) {}
  const env = (globalThis as unknown as { process: { env: Record<string, string> } }).process.env;
  return {
    output: {
      doubled: (input.n ?? 0) * 2,
      context,
      // What the function's environment holds: kumo.json's env and secrets and its env vars, nothing else.
      envKeys: Object.keys(env).sort(),
      named: env.NAMED_SECRET ?? null,
      plain: env.PLAIN ?? null,
    },
    nextPath: (input.n ?? 0) > 10 ? "big" : "small",
  };
}
export default {
  fetch(_request: Request, env: Record<string, string>) {
    return Response.json({ envKeys: Object.keys(env).sort() });
  },
};
`;

const PLAIN_FETCH = `export default { async fetch(request: Request) {
  const body = await request.json() as { input: unknown; context: { stepId?: string } };
  return Response.json({ echoed: body.input, stepId: body.context.stepId, eventType: request.headers.get("kumo-event-type") });
} };`;

describe("step runs - POST /v1/functions/:name/run", () => {
  let t: TestGateway;
  let admin: string;
  let invoker: string;
  let viewer: string;

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    const tenant = await t.tenant();
    admin = tenant.key;
    invoker = (await t.key(tenant.name, admin, "invoker")).key;
    viewer = (await t.key(tenant.name, admin, "viewer")).key;
    for (const [name, value] of [
      ["NAMED_SECRET", "named-value"],
      ["OTHER_SECRET", "other-value"],
    ] as const) {
      expect((await t.call("PUT", `/v1/secrets/${name}`, { key: admin, body: { value } })).status).toBe(200);
    }
    for (const [name, source, config] of [
      ["stepper", STEP, { env: { PLAIN: "p" }, secrets: ["NAMED_SECRET"], cpuMs: 20, timeoutMs: 1000 }],
      ["plain", PLAIN_FETCH, {}],
    ] as const) {
      const created = await t.call("POST", "/v1/functions", {
        key: admin,
        body: { name, runtime: "edge", config },
      });
      expect(created.status, created.body).toBe(201);
      const dep = await t.call("POST", `/v1/functions/${name}/deployments`, {
        key: admin,
        body: { files: { "index.ts": source } },
      });
      expect(dep.json.status, dep.body).toBe("succeeded");
    }
    const envVar = await t.call("PUT", "/v1/functions/stepper/env/FN_VAR", {
      key: admin,
      body: { value: "v" },
    });
    expect(envVar.status).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("step runs - output, nextPath, logs, duration, invocation id and version; recorded with trigger step", async () => {
    const res = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: {
        input: { n: 21 },
        context: {
          workflowId: "wf-1",
          runId: "run-7",
          stepId: "double",
          trigger: { kind: "manual" },
          previous: { a: 1 },
        },
      },
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toMatchObject({ nextPath: "big", version: 1 });
    expect(res.json.output.doubled).toBe(42);
    expect(res.json.output.context).toMatchObject({
      workflowId: "wf-1",
      runId: "run-7",
      stepId: "double",
      trigger: { kind: "manual" },
      previous: { a: 1 },
      env: {},
      invocationId: res.json.invocationId,
      function: "stepper",
      version: 1,
    });
    expect(res.json.output.context.deadline).toBeGreaterThan(Date.now());
    expect(res.json.logs).toEqual([expect.objectContaining({ level: "info", message: 'step {"n":21}' })]);
    expect(res.json.durationMs).toBeGreaterThan(0);
    expect(res.headers["kumo-invocation-id"]).toBe(res.json.invocationId);
    const record = await t.call("GET", `/v1/invocations/${res.json.invocationId}`, { key: admin });
    expect(record.status, record.body).toBe(200);
    expect(record.json).toMatchObject({ trigger: "step", status: "succeeded" });
    const listed = await t.call("GET", "/v1/functions/stepper/invocations?trigger=step", { key: admin });
    expect(listed.json.items.map((i: { id: string }) => i.id)).toContain(res.json.invocationId);
  });

  it("step runs - a throw is an answer on the error path (or the error's own), with code, message and stack", async () => {
    const res = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: { input: { fail: "boom" } },
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toMatchObject({ output: null, nextPath: "error", error: { code: "FN_004" } });
    expect(res.json.error.message).toContain("boom");
    expect(res.json.error.stack).toContain("boom");
    const chosen = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: { input: { fail: "branch" } },
    });
    expect(chosen.json).toMatchObject({ nextPath: "fallback", error: { code: "FN_004" } });
    const record = await t.call("GET", `/v1/invocations/${res.json.invocationId}`, { key: admin });
    expect(record.json).toMatchObject({ trigger: "step", status: "failed", errorCode: "FN_004" });
  });

  it("step runs - a step over its CPU limit is an answer on the error path too", async () => {
    const res = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: { input: { spin: true } },
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json.nextPath).toBe("error");
    expect(["FN_002", "FN_004"]).toContain(res.json.error.code);
  });

  it("step runs - a function without step() gets {input, context} as a step event; its response is the output", async () => {
    const res = await t.call("POST", "/v1/functions/plain/run", {
      key: invoker,
      body: { input: [1, 2], context: { stepId: "s9" } },
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toMatchObject({
      output: { echoed: [1, 2], stepId: "s9", eventType: "step" },
      nextPath: "default",
    });
  });

  it("env filtering - a step sees only what its kumo.json names and its env vars; the caller's context.env stays data", async () => {
    const res = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: {
        input: { n: 1 },
        context: { env: { OTHER_SECRET: "caller-set", NAMED_SECRET: "caller-override", PLAIN: "caller" } },
      },
    });
    expect(res.status, res.body).toBe(200);
    const { output } = res.json;
    expect(output.envKeys).toEqual(["FN_VAR", "NAMED_SECRET", "PLAIN"]);
    expect([output.named, output.plain]).toEqual(["named-value", "p"]);
    expect(output.context.env).toEqual({
      OTHER_SECRET: "caller-set",
      NAMED_SECRET: "caller-override",
      PLAIN: "caller",
    });
    // The fetch handler's env is the same filtered set.
    const http = await t.call("POST", "/v1/functions/stepper/invoke", { key: invoker, body: "x" });
    expect(http.json.envKeys).toEqual(["FN_VAR", "NAMED_SECRET", "PLAIN"]);
  });

  it("step runs - roles and bad input: a viewer is refused, fields are named, unknown functions are 404", async () => {
    const denied = await t.call("POST", "/v1/functions/stepper/run", { key: viewer, body: { input: 1 } });
    expect([denied.status, denied.json.error.code]).toEqual([403, "FN_009"]);
    const badContext = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: { input: 1, context: { workflowId: 5 } },
    });
    expect([badContext.status, badContext.json.error.code]).toEqual([400, "FN_006"]);
    expect(badContext.body).toContain("workflowId");
    const extra = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: { input: 1, inputs: 2 },
    });
    expect([extra.status, extra.json.error.code]).toEqual([400, "FN_006"]);
    expect(extra.body).toContain("inputs");
    const badEnv = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: { context: { env: { A: 1 } } },
    });
    expect([badEnv.status, badEnv.json.error.code]).toEqual([400, "FN_006"]);
    expect(badEnv.body).toContain("env");
    const type = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: {},
      headers: { "kumo-invocation-type": "later" },
    });
    expect([type.status, type.json.error.code]).toEqual([400, "FN_006"]);
    const missing = await t.call("POST", "/v1/functions/nope/run", { key: invoker, body: {} });
    expect([missing.status, missing.json.error.code]).toEqual([404, "FN_001"]);
  });

  it("step runs - async: 202 with the invocation id, recorded as a queued step", async () => {
    const res = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: { input: { n: 2 } },
      headers: { "kumo-invocation-type": "async", "kumo-idempotency-key": "step-once" },
    });
    expect(res.status, res.body).toBe(202);
    expect(res.json).toMatchObject({ status: "queued", replay: false });
    const again = await t.call("POST", "/v1/functions/stepper/run", {
      key: invoker,
      body: { input: { n: 2 } },
      headers: { "kumo-invocation-type": "async", "kumo-idempotency-key": "step-once" },
    });
    expect(again.json).toMatchObject({ invocationId: res.json.invocationId, replay: true });
    const record = await t.call("GET", `/v1/invocations/${res.json.invocationId}`, { key: admin });
    expect(record.json).toMatchObject({ trigger: "step", status: "queued" });
  });
});
