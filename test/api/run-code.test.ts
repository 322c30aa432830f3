import { PlatformStore } from "@kumo/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";

const STEP = `export async function step(input: { price: number; qty: number }, context: { env: Record<string, string> }) {
  console.log("quote for", input.qty);
  const total = input.price * input.qty * (1 + Number(process.env.TAX ?? 0));
  return { output: { total, region: context.env.REGION ?? null }, nextPath: total > 100 ? "approve" : "auto" };
}
declare const process: { env: Record<string, string | undefined> };`;

describe("draft runs - POST /v1/run", () => {
  let t: TestGateway;
  let admin: string;
  let invoker: string;
  let tenantName: string;

  beforeAll(async () => {
    t = await startTestGateway({ edge: true, env: { KUMO_DRAFT_RATE: "60", KUMO_DRAFT_BURST: "40" } });
    const tenant = await t.tenant();
    admin = tenant.key;
    tenantName = tenant.name;
    invoker = (await t.key(tenant.name, admin, "invoker")).key;
    expect((await t.call("PUT", "/v1/secrets/HIDDEN", { key: admin, body: { value: "s" } })).status).toBe(
      200,
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it("run code - code of no function runs as a step with input, context and the env it was given", async () => {
    const res = await t.call("POST", "/v1/run", {
      key: admin,
      body: {
        runtime: "edge",
        code: STEP,
        input: { price: 30, qty: 4 },
        context: { workflowId: "wf-d", env: { REGION: "eu" } },
        env: { TAX: "0.5" },
      },
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toMatchObject({
      output: { total: 180, region: "eu" },
      nextPath: "approve",
      coldStart: "cold",
    });
    expect(res.json.logs).toEqual([expect.objectContaining({ level: "info", message: "quote for 4" })]);
    expect(res.json.durationMs).toBeGreaterThan(0);
    // Recorded as a draft in the tenant's audit log (no route reads it yet), never as an invocation.
    const tenantId = (await t.call("GET", "/v1/whoami", { key: admin })).json.tenant.id as string;
    // The audit row is written beside the answer: look for it for a moment.
    const audit = new PlatformStore(t.gateway.database.db).tenant(tenantId).audit;
    let event: { details: unknown } | undefined;
    for (let i = 0; i < 250 && !event; i++) {
      const { items } = await audit.list({ limit: 50 }, "draft");
      event = items.find(
        (e) =>
          e.action === "draft.run" &&
          (e.details as { invocationId?: string }).invocationId === res.json.invocationId,
      );
      if (!event) await new Promise((r) => setTimeout(r, 20));
    }
    expect(event?.details).toMatchObject({ kind: "draft", trigger: "step", status: 200, errorCode: null });
    const invocations = await t.gateway.database.db
      .selectFrom("invocations")
      .select("id")
      .where("id", "=", res.json.invocationId)
      .execute();
    expect(invocations).toEqual([]);
    // The env stays out of the audit row: neither its name nor its value (a JSON string, quoted:
    // the row's own numbers, a duration of 10.5 ms, may contain the digits).
    expect(JSON.stringify(event)).not.toContain("TAX");
    expect(JSON.stringify(event)).not.toContain('"0.5"');
  });

  it("run code - files with a handler, as an HTTP request; no tenant secret reaches a draft of no function", async () => {
    const res = await t.call("POST", "/v1/run", {
      key: admin,
      body: {
        runtime: "edge",
        files: {
          "src/main.ts": `import { greet } from "./greet.ts";
export default { async fetch(request: Request, env: Record<string, string>) {
  return Response.json({ text: greet(await request.text()), keys: Object.keys(env), path: new URL(request.url).pathname });
} };`,
          "src/greet.ts": `export const greet = (name: string) => "hello " + name;`,
        },
        handler: "src/main.ts",
        request: { method: "POST", path: "/hook", body: "kumo" },
        env: { A: "1" },
      },
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json.status).toBe(200);
    expect(JSON.parse(res.json.body)).toEqual({ text: "hello kumo", keys: ["A"], path: "/hook" });
    expect(res.json.error).toBeNull();
  });

  it("run code - a syntax error is FN_005 with file, line and column; a throw and a CPU limit come back as errors", async () => {
    const broken = await t.call("POST", "/v1/run", {
      key: admin,
      body: {
        runtime: "edge",
        files: { "index.ts": "export default {\n  fetch() {\n    return new Response(;\n  },\n};\n" },
      },
    });
    expect([broken.status, broken.json.error.code]).toEqual([422, "FN_005"]);
    expect(broken.json.error.details).toMatchObject({ file: "index.ts", line: 3, column: 25 });
    expect(broken.json.error.message).toContain("index.ts:3:25");
    const thrown = await t.call("POST", "/v1/run", {
      key: admin,
      body: { runtime: "edge", code: "export function step() { throw new Error('nope'); }", input: 1 },
    });
    expect(thrown.status, thrown.body).toBe(200);
    expect(thrown.json).toMatchObject({ output: null, nextPath: "error", error: { code: "FN_004" } });
    expect(thrown.json.error.message).toContain("nope");
    const spin = await t.call("POST", "/v1/run", {
      key: admin,
      body: { runtime: "edge", code: "export default { fetch() { for (;;) {} } };" },
    });
    expect(spin.status, spin.body).toBe(200);
    expect(spin.json.status).toBeGreaterThanOrEqual(500);
    expect(["FN_002", "FN_004"]).toContain(spin.json.error.code);
  });

  it("run code - bad input names the field; container runtimes and the invoker role are refused", async () => {
    const cases: [unknown, string][] = [
      [{ runtime: "node", code: "x" }, "body.runtime"],
      [{ runtime: "edge" }, "body.code"],
      [{ runtime: "edge", code: "x", files: { "a.ts": "x" } }, "body.code"],
      [{ runtime: "edge", code: "x", input: 1, request: {} }, "body.request"],
      [{ runtime: "edge", code: "x", context: {} }, "body.context"],
      [{ runtime: "edge", code: "x", env: { "1BAD": "x" } }, "body.env"],
      [{ runtime: "edge", code: "x", extra: true }, "extra"],
    ];
    for (const [body, field] of cases) {
      const res = await t.call("POST", "/v1/run", { key: admin, body });
      expect([res.status, res.json.error.code], JSON.stringify(body)).toEqual([400, "FN_006"]);
      expect(res.json.error.message, JSON.stringify(body)).toContain(field);
    }
    const denied = await t.call("POST", "/v1/run", { key: invoker, body: { runtime: "edge", code: "x" } });
    expect([denied.status, denied.json.error.code]).toEqual([403, "FN_009"]);
  });

  it("run code - a tenant over its draft rate gets FN_007; another tenant is not held back", async () => {
    const other = await t.tenant();
    const body = { runtime: "edge", code: "export function step(n: number) { return n + 1; }", input: 1 };
    let limited: { status: number; json: { error: { code: string; message: string } } } | undefined;
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await t.call("POST", "/v1/run", { key: admin, body });
      if (res.status !== 200) limited = res;
    }
    expect(limited?.status).toBe(429);
    expect(limited?.json.error.code).toBe("FN_007");
    expect(limited?.json.error.message).toContain("try again in");
    const fine = await t.call("POST", "/v1/run", { key: other.key, body });
    expect([fine.status, fine.json.output]).toEqual([200, 2]);
    expect(tenantName).not.toBe(other.name);
  });
});
