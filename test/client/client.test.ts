import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KumoApiError, KumoClient } from "../../packages/client/src/index.ts";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";

const SOURCE = (greeting: string) => `
export default {
  async fetch(request: Request) {
    console.log("${greeting} invoked", new URL(request.url).pathname);
    if (request.headers.get("x-fail")) return new Response("function says no", { status: 502 });
    return Response.json({ greeting: "${greeting}", body: await request.text() });
  },
};
export async function step(input: { n: number }, context: { stepId: string }) {
  console.log("step", context.stepId);
  if (input.n < 0) throw new Error("negative");
  return { output: input.n + 1, nextPath: input.n > 5 ? "high" : "low" };
}`;

describe("client SDK - against a running gateway", () => {
  let t: TestGateway;
  let client: KumoClient;
  let key: string;
  let url: string;

  beforeAll(async () => {
    t = await startTestGateway({ edge: true, listen: true });
    key = (await t.tenant()).key;
    url = t.gateway.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    client = new KumoClient({ url, key, retryBaseMs: 10 });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("client - manages functions and versions: create, deploy, list, versions, rollback, delete", async () => {
    const created = await client.createFunction({ name: "sdk-fn", runtime: "edge" });
    expect(created.name).toBe("sdk-fn");
    const first = await client.deploy("sdk-fn", { files: { "index.ts": SOURCE("one") } });
    const second = await client.deploy("sdk-fn", { files: { "index.ts": SOURCE("two") } });
    expect([first.status, first.version, second.version]).toEqual(["succeeded", 1, 2]);
    expect((await client.getDeployment("sdk-fn", second.id)).status).toBe("succeeded");
    const list = await client.listFunctions();
    expect(list.items.map((f) => f.name)).toContain("sdk-fn");
    const versions = await client.listVersions("sdk-fn");
    expect(versions.items.map((v) => v.version).sort()).toEqual([1, 2]);
    expect((await client.getVersion("sdk-fn", 1)).version).toBe(1);
    expect((await client.invoke("sdk-fn", "x")).json()).toEqual({ greeting: "two", body: "x" });
    await client.rollback("sdk-fn");
    const pinned = await client.invoke("sdk-fn", { a: 1 });
    expect([pinned.status, pinned.version, pinned.json()]).toEqual([
      200,
      1,
      { greeting: "one", body: '{"a":1}' },
    ]);
    expect(pinned.invocationId).toMatch(/./);
    // A function's own 5xx is its answer, returned as is (no retry, no throw).
    const failing = await client.invoke("sdk-fn@v2", "x", { headers: { "x-fail": "1" } });
    expect([failing.status, failing.text()]).toEqual([502, "function says no"]);
    await client.createFunction({ name: "sdk-gone", runtime: "edge" });
    await client.deleteFunction("sdk-gone");
    const missing = await client.getFunction("sdk-gone").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(KumoApiError);
    expect([(missing as KumoApiError).code, (missing as KumoApiError).status]).toEqual(["FN_001", 404]);
  });

  it("client - runs a step and a draft; errors come back typed", async () => {
    const step = await client.runStep("sdk-fn@v2", { n: 9 }, { stepId: "inc", workflowId: "wf" });
    expect(step).toMatchObject({ output: 10, nextPath: "high", version: 2 });
    expect(step.logs.map((l) => l.message)).toEqual(["step inc"]);
    const failed = await client.runStep("sdk-fn", { n: -1 });
    expect(failed).toMatchObject({ output: null, nextPath: "error", error: { code: "FN_004" } });
    const draft = await client.draftRun({
      runtime: "edge",
      code: "export function step(input: number[]) { return input.reduce((a, b) => a + b, 0); }",
      input: [1, 2, 3],
    });
    expect(draft).toMatchObject({ output: 6, nextPath: "default" });
    const broken = (await client.draftRun({ runtime: "edge", code: "export default {" }).then(
      () => undefined,
      (e: unknown) => e,
    )) as KumoApiError;
    expect([broken.code, broken.status]).toEqual(["FN_005", 422]);
    expect(broken.details).toMatchObject({ file: "index.ts", line: 1 });
  });

  it("client - async calls carry one idempotency key across retries: a lost answer does not queue twice", async () => {
    let calls = 0;
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      calls++;
      // The first answer is lost after the gateway queued the invocation.
      if (calls === 1) throw new TypeError("fetch failed (connection reset)");
      return res;
    };
    const retrying = new KumoClient({ url, key, fetch: lossy, retryBaseMs: 5 });
    const queued = await retrying.runStepAsync("sdk-fn", { n: 1 }, { stepId: "once" });
    expect(calls).toBe(2);
    expect([queued.status, queued.replay]).toEqual(["queued", true]);
    const invocation = await client.getInvocation(queued.invocationId);
    expect([invocation.trigger, invocation.status]).toEqual(["step", "queued"]);
    const again = await client.invokeAsync("sdk-fn", "x", { idempotencyKey: "k-1" });
    const same = await client.invokeAsync("sdk-fn", "x", { idempotencyKey: "k-1" });
    expect([same.invocationId, same.replay]).toEqual([again.invocationId, true]);
  });

  it("client - a sync call is not repeated after a lost answer; 429s are retried", async () => {
    let calls = 0;
    const lossy: typeof fetch = async (input, init) => {
      calls++;
      if (calls === 1) throw new TypeError("fetch failed");
      return fetch(input, init);
    };
    const noRetry = new KumoClient({ url, key, fetch: lossy, retryBaseMs: 5 });
    const lost = (await noRetry.runStep("sdk-fn", { n: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    )) as KumoApiError;
    expect([lost.code, calls]).toEqual(["network", 1]);
    let limited = 0;
    const busy: typeof fetch = async (input, init) => {
      if (limited++ < 2) {
        return new Response(JSON.stringify({ error: { code: "FN_007", message: "slow down" } }), {
          status: 429,
          headers: { "retry-after": "0" },
        });
      }
      return fetch(input, init);
    };
    const patient = new KumoClient({ url, key, fetch: busy });
    expect((await patient.runStep("sdk-fn", { n: 2 })).output).toBe(3);
    expect(limited).toBe(3);
  });

  it("client - streams logs live over SSE", async () => {
    const abort = new AbortController();
    const lines: string[] = [];
    const reading = (async () => {
      try {
        for await (const line of client.streamLogs("sdk-fn", {}, { signal: abort.signal })) {
          lines.push(line.message);
          if (line.message.includes("stream-me")) abort.abort();
        }
      } catch (error) {
        if (!abort.signal.aborted) throw error;
      }
    })();
    // The subscription starts when the stream opens: invoke until a line arrives.
    for (let i = 0; i < 50 && !abort.signal.aborted; i++) {
      await client.invoke("sdk-fn", "x", { headers: {} });
      await client.runStep("sdk-fn", { n: 0 }, { stepId: "stream-me" });
      await new Promise((r) => setTimeout(r, 50));
    }
    await reading;
    expect(lines.some((l) => l.includes("stream-me"))).toBe(true);
  });
});
