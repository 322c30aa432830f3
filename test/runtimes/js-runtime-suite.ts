import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeHarness } from "./edge-harness.ts";
import { expectBodyRules, expectHttpEventRules, expectResultRules } from "./http-event-rules.ts";
import {
  ensureRuntimeImages,
  type RunningFunction,
  RuntimeHarness,
  SETUP_TIMEOUT_MS,
  waitForLog,
} from "./runtime-harness.ts";

/**
 * The JS shim is one source for node, bun and deno, and edge isolates share its Lambda event and
 * result rules (runtimes/shared): each runtime runs the same suite.
 */
export type JsLang = "node" | "bun" | "deno" | "edge";

/** What the cases call: a container's shim, or edge isolates spoken to the same way (edge-harness.ts). */
type SuiteFunction = Pick<RunningFunction, "request" | "logs">;

// A vendored dependency (CommonJS, resolved from node_modules in the code dir) and both handler
// shapes: Workers-style default export (index.mjs) and Lambda-style TypeScript (lambda.ts).
export const jsFunctionFiles: Record<string, string> = {
  "package.json": JSON.stringify({ name: "fn", type: "module", dependencies: { "kumo-dep": "1.0.0" } }),
  "node_modules/kumo-dep/package.json": JSON.stringify({
    name: "kumo-dep",
    version: "1.0.0",
    main: "index.js",
  }),
  "node_modules/kumo-dep/index.js": "exports.shout = (s) => s.toUpperCase() + '!';\n",
  "index.mjs": `
import dep from "kumo-dep";
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    console.log("workers got", request.method, url.pathname);
    if (url.pathname === "/throw") throw new Error("kaboom from workers");
    if (url.pathname === "/status-error") return Response.error();
    if (url.pathname === "/status") return new (class extends Response { get status() { return 101; } })(null);
    const body = new Uint8Array(await request.arrayBuffer());
    const headers = new Headers({
      "content-type": request.headers.get("content-type") ?? "application/octet-stream",
      "x-method": request.method,
      "x-query": url.search,
      "x-invocation": request.headers.get("kumo-invocation-id") ?? "",
      "x-custom": request.headers.get("x-custom") ?? "",
      "x-dep": dep.shout("dep"),
      "x-env": env.GREETING ?? "",
    });
    headers.append("set-cookie", "a=1");
    headers.append("set-cookie", "b=2");
    return new Response(body, { status: 200, headers });
  },
};
export async function step(input, context) {
  console.log("step got", JSON.stringify(input));
  if (input?.fail) {
    const error = new Error("step failed: " + input.fail);
    if (input.path) error.nextPath = input.path;
    throw error;
  }
  if (input?.route) return { output: { doubled: input.n * 2 }, nextPath: input.route };
  if (input?.nothing) return undefined;
  const { getRemainingTimeInMillis, ...fields } = context;
  return { n: input?.n, context: fields, remaining: getRemainingTimeInMillis() > 0 };
}
`,
  "lambda.ts": `
interface HttpEvent { rawPath?: string; rawQueryString?: string; body?: string; isBase64Encoded?: boolean;
  requestContext?: { http: { method: string } }; headers?: Record<string, string> }
interface Context { invocationId: string; eventType?: string; auth: unknown; getRemainingTimeInMillis(): number }
export async function handler(event: HttpEvent, context: Context): Promise<unknown> {
  console.error("lambda got", event.rawPath ?? "event");
  if (context.eventType) return { eventType: context.eventType, event };
  if (event.rawPath === "/throw") throw new TypeError("kaboom from lambda");
  if (event.rawPath === "/text") return "plain text";
  if (event.rawPath === "/auth") return { auth: context.auth };
  if (event.rawPath === "/status") return { statusCode: JSON.parse(new URLSearchParams(event.rawQueryString).get("s") ?? "200"), body: "x" };
  if (event.rawPath === "/binary") {
    // atob/btoa rather than Buffer: edge isolates have no Node globals.
    const bytes = event.isBase64Encoded ? atob(event.body ?? "") : (event.body ?? "");
    return { statusCode: 200, headers: { "content-type": "application/octet-stream" },
      body: btoa(bytes), isBase64Encoded: true };
  }
  if (event.rawPath === "/cookies") {
    return { statusCode: "202", headers: { "X-Upper": "v", "x-null": null },
      multiValueHeaders: { "x-multi": ["a", "b"] }, cookies: ["s=1; Path=/", "t=2"], body: { ok: true } };
  }
  if (event.rawPath === "/bad-base64") return { statusCode: 200, body: "not base64!", isBase64Encoded: true };
  if (event.rawPath === "/response") {
    return new Response("from a Response", { status: 203, headers: { "x-kind": "response" } });
  }
  return { statusCode: 201, headers: { "x-shape": "lambda" }, body: JSON.stringify({ event,
    remaining: context.getRemainingTimeInMillis() > 0 }) };
}
`,
};

/**
 * The same functions as edge deploys them: its bundler takes only the function's own files (a bare
 * import such as "kumo-dep" is refused until npm packages are supported), so the vendored
 * dependency is imported by path; and an index.ts re-exporting lambda.ts stands for KUMO_HANDLER
 * "lambda.handler".
 */
function edgeFunctionFiles(shape: "workers" | "lambda"): Record<string, string> {
  if (shape === "lambda")
    return { ...jsFunctionFiles, "index.ts": 'export { handler } from "./lambda.ts";\n' };
  const index = (jsFunctionFiles["index.mjs"] ?? "").replace(
    'from "kumo-dep"',
    'from "./node_modules/kumo-dep/index.js"',
  );
  return { ...jsFunctionFiles, "index.mjs": index };
}

const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

export function describeJsRuntime(lang: JsLang): void {
  // Cases about the container shim's own protocol (GET /healthz, POST /init, stem cells) do not apply
  // to edge: isolates have no shim; the provider starts its hosts before it takes work and loads a
  // version's code itself on its first invocation. Everything else runs on all four runtimes.
  const shimOnly = lang === "edge" ? it.skip : it;

  describe(`runtime ${lang} - ${lang === "edge" ? "isolates" : "shim"}`, () => {
    const harness = new RuntimeHarness();
    const edge = new EdgeHarness();
    let workers: SuiteFunction;
    let lambda: SuiteFunction;

    beforeAll(async () => {
      if (lang === "edge") {
        [workers, lambda] = await Promise.all([
          edge.start(edgeFunctionFiles("workers"), { GREETING: "hi" }),
          edge.start(edgeFunctionFiles("lambda")),
        ]);
        return;
      }
      await ensureRuntimeImages([lang]);
      const dockerfile = `FROM kumo/runtime-${lang}:latest\nCOPY . /var/task/\nENV KUMO_CODE_DIR=/var/task\n`;
      const image = await harness.buildImage({ ...jsFunctionFiles, Dockerfile: dockerfile });
      [workers, lambda] = await Promise.all([
        harness.start(image, { env: { KUMO_HANDLER: "index", GREETING: "hi" } }),
        harness.start(image, { env: { KUMO_HANDLER: "lambda.handler" } }),
      ]);
    }, SETUP_TIMEOUT_MS);
    afterAll(() => Promise.all([harness.cleanup(), edge.cleanup()]));

    shimOnly("healthz - 200 once the baked handler is loaded", async () => {
      const res = await workers.request({ path: "/healthz" });
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ state: "ready", runtime: lang });
    });

    it("workers shape - method, path, query, headers, binary body and cookies round-trip", async () => {
      const res = await workers.request({
        method: "PUT",
        path: "/invoke/things/1?x=2&y=3",
        headers: {
          "kumo-invocation-id": "inv-w1",
          "x-custom": "yes",
          "content-type": "application/octet-stream",
        },
        body: binary,
      });
      expect(res.status).toBe(200);
      expect(Buffer.compare(res.body, binary)).toBe(0);
      expect(res.headers["x-method"]).toBe("PUT");
      expect(res.headers["x-query"]).toBe("?x=2&y=3");
      expect(res.headers["x-invocation"]).toBe("inv-w1");
      expect(res.headers["x-custom"]).toBe("yes");
      expect(res.headers["x-dep"]).toBe("DEP!");
      expect(res.headers["x-env"]).toBe("hi");
      expect(res.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
    });

    it("workers shape - a throw is a 500 FN_004 and the shim keeps serving", async () => {
      const res = await workers.request({
        path: "/invoke/throw",
        headers: { "kumo-invocation-id": "inv-w2" },
      });
      expect(res.status).toBe(500);
      expect(res.headers["kumo-error"]).toBe("FN_004");
      const body = res.json() as { code: string; message: string; stack: string };
      expect(body.code).toBe("FN_004");
      expect(body.message).toBe("kaboom from workers");
      expect(body.stack).toContain("kaboom from workers");
      const again = await workers.request({
        path: "/invoke/ok",
        headers: { "kumo-invocation-id": "inv-w3" },
      });
      expect(again.status).toBe(200);
    });

    shimOnly(
      "usage - node and bun report each invocation's CPU time and memory in kumo-usage (deno does not), errors included",
      async () => {
        const ok = await workers.request({ path: "/invoke/ok", headers: { "kumo-invocation-id": "inv-u1" } });
        const thrown = await workers.request({
          path: "/invoke/throw",
          headers: { "kumo-invocation-id": "inv-u2" },
        });
        const text = await lambda.request({
          path: "/invoke/text",
          headers: { "kumo-invocation-id": "inv-u3" },
        });
        for (const res of [ok, thrown, text]) {
          if (lang === "node" || lang === "bun") {
            expect(res.headers["kumo-usage"]).toMatch(/^cpu=\d+(\.\d+)?;rss=\d+$/);
          } else expect(res.headers["kumo-usage"]).toBeUndefined();
        }
      },
    );

    it("logs - console output is a JSON line tagged with the invocation id", async () => {
      await workers.request({ path: "/invoke/logme", headers: { "kumo-invocation-id": "inv-log-1" } });
      const line = await waitForLog(workers, (l) => l.invocationId === "inv-log-1");
      expect(line).toMatchObject({ level: "info", message: "workers got GET /logme" });
      expect(typeof line.ts).toBe("number");
    });

    it("lambda shape (TypeScript) - API-Gateway-v2 event and {statusCode, headers, body} result", async () => {
      const res = await lambda.request({
        method: "POST",
        path: "/invoke/items?a=1&a=2",
        headers: {
          "kumo-invocation-id": "inv-l1",
          "kumo-deadline-ms": String(Date.now() + 30_000),
          "content-type": "application/json",
        },
        body: JSON.stringify({ hello: "world" }),
      });
      expect(res.status).toBe(201);
      expect(res.headers["x-shape"]).toBe("lambda");
      // The result names no content type: Lambda's default, application/json (and so on every runtime).
      expect(res.headers["content-type"]).toBe("application/json");
      const { event, remaining } = res.json() as { event: Record<string, unknown>; remaining: boolean };
      expect(remaining).toBe(true);
      expect(event).toMatchObject({
        version: "2.0",
        rawPath: "/items",
        rawQueryString: "a=1&a=2",
        queryStringParameters: { a: "1,2" },
        requestContext: { http: { method: "POST", path: "/items" }, requestId: "inv-l1" },
        body: '{"hello":"world"}',
        isBase64Encoded: false,
      });
      const line = await waitForLog(lambda, (l) => l.invocationId === "inv-l1");
      expect(line).toMatchObject({ level: "error", message: "lambda got /items" });
    });

    it("lambda event - repeated query values comma-joined, cookies split out, headers lower-cased and joined", async () => {
      await expectHttpEventRules(lambda, "inv-l2");
    });

    it("lambda event - a body without content type is text if UTF-8, else base64; a non-JSON event is text", async () => {
      await expectBodyRules(lambda, lambda);
    });

    it("lambda result - cookies are set-cookie, multiValueHeaders repeat, an object body is JSON, a Response passes", async () => {
      await expectResultRules(lambda);
      const response = await lambda.request({ path: "/invoke/response" });
      expect([response.status, response.headers["x-kind"], response.body.toString()]).toEqual([
        203,
        "response",
        "from a Response",
      ]);
    });

    it("lambda shape - binary bodies travel base64 both ways; a string result is its text, typed application/json as on Lambda", async () => {
      const res = await lambda.request({
        method: "POST",
        path: "/invoke/binary",
        headers: { "content-type": "application/octet-stream" },
        body: binary,
      });
      expect(res.status).toBe(200);
      expect(Buffer.compare(res.body, binary)).toBe(0);
      const text = await lambda.request({ path: "/invoke/text" });
      expect(text.body.toString()).toBe("plain text");
      expect(text.headers["content-type"]).toBe("application/json");
    });

    it("lambda shape - event invocation gets the JSON event and kumo-event-type", async () => {
      const res = await lambda.request({
        method: "POST",
        path: "/invoke",
        headers: { "kumo-event-type": "cron", "content-type": "application/json" },
        body: JSON.stringify({ schedule: "*/5 * * * *" }),
      });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ eventType: "cron", event: { schedule: "*/5 * * * *" } });
      const thrown = await lambda.request({ path: "/invoke/throw" });
      expect(thrown.status).toBe(500);
      expect(thrown.json()).toMatchObject({ code: "FN_004", message: "kaboom from lambda" });
    });

    it("status - a status that is not a final HTTP status is a 500 FN_004 naming it, never sent as is", async () => {
      // node:http would send 1xx as an interim response and the caller would wait for ever: a short
      // timeout makes such a hang fail this test quickly.
      for (const status of [100, 101, 102, 103, 199, 600, 1000, "1e3", -1, 200.5]) {
        const s = encodeURIComponent(JSON.stringify(status));
        const res = await lambda.request({ path: `/invoke/status?s=${s}`, timeoutMs: 3000 });
        expect([res.status, res.headers["kumo-error"]], String(status)).toEqual([500, "FN_004"]);
        expect((res.json() as { message: string }).message).toContain(
          `statusCode ${JSON.stringify(status)} `,
        );
      }
      for (const [path, shown] of [
        ["/invoke/status-error", "0"],
        ["/invoke/status", "101"],
      ] as const) {
        const res = await workers.request({ path, timeoutMs: 3000 });
        expect([res.status, res.headers["kumo-error"]], path).toEqual([500, "FN_004"]);
        expect((res.json() as { message: string }).message).toContain(`status ${shown} `);
      }
    });

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

    it("step shape - step(input, context) gets the caller's context and the platform's fields; a plain value takes the default path", async () => {
      const context = {
        workflowId: "wf-1",
        runId: "run-1",
        stepId: "price",
        trigger: { type: "webhook" },
        previous: { fetch: { ok: true } },
        env: { REGION: "eu" },
        function: "pricing",
        version: 3,
      };
      const res = await workers.request(stepRequest("inv-step-1", { input: { n: 21 }, context }));
      expect(res.status).toBe(200);
      expect(res.headers["kumo-step"]).toBe("1");
      const body = res.json() as { output: Record<string, unknown>; nextPath: string };
      expect(body.nextPath).toBe("default");
      expect(body.output).toMatchObject({
        n: 21,
        remaining: true,
        context: {
          workflowId: "wf-1",
          runId: "run-1",
          stepId: "price",
          trigger: { type: "webhook" },
          previous: { fetch: { ok: true } },
          env: { REGION: "eu" },
          invocationId: "inv-step-1",
        },
      });
      // Containers take function and version from the gateway's body; isolates know their own.
      const fields = body.output.context as { function: string; version: number; deadline: number };
      expect(fields.version).toBe(lang === "edge" ? 1 : 3);
      expect(typeof fields.function).toBe("string");
      expect(fields.function.length).toBeGreaterThan(0);
      expect(fields.deadline).toBeGreaterThan(Date.now());
      const line = await waitForLog(workers, (l) => l.invocationId === "inv-step-1");
      expect(line).toMatchObject({ level: "info", message: 'step got {"n":21}' });
    });

    it("context.auth - the gateway's verified claims: Lambda context.auth from kumo-auth-claims, step context.auth from the body", async () => {
      const claims = { sub: "user-7", aud: "kumo", roles: ["buyer"] };
      const lambdaAuth = await lambda.request({
        path: "/invoke/auth",
        headers: { "kumo-auth-claims": JSON.stringify(claims) },
      });
      expect(lambdaAuth.status).toBe(200);
      expect(lambdaAuth.json()).toEqual({ auth: claims });
      const none = await lambda.request({ path: "/invoke/auth" });
      expect(none.json()).toEqual({ auth: null });
      const step = await workers.request(
        stepRequest("inv-step-auth", { input: { n: 1 }, context: { auth: claims } }),
      );
      expect(step.status).toBe(200);
      expect((step.json() as { output: { context: { auth: unknown } } }).output.context.auth).toEqual(claims);
      const anonymous = await workers.request(stepRequest("inv-step-anon", { input: { n: 1 } }));
      expect((anonymous.json() as { output: { context: { auth: unknown } } }).output.context.auth).toBeNull();
    });

    it("step shape - { output, nextPath } chooses the branch; undefined is a null output", async () => {
      const routed = await workers.request(stepRequest("inv-step-2", { input: { n: 4, route: "big" } }));
      expect([routed.status, routed.json()]).toMatchObject([
        200,
        { output: { doubled: 8 }, nextPath: "big" },
      ]);
      const empty = await workers.request(stepRequest("inv-step-3", { input: { nothing: true } }));
      expect(empty.json()).toMatchObject({ output: null, nextPath: "default" });
    });

    it("step shape - a throw is FN_004 on the error path, or on the path the error names", async () => {
      const thrown = await workers.request(stepRequest("inv-step-4", { input: { fail: "no stock" } }));
      expect([thrown.status, thrown.headers["kumo-error"]]).toEqual([500, "FN_004"]);
      const body = thrown.json() as { code: string; message: string; stack: string; nextPath: string };
      expect(body).toMatchObject({ code: "FN_004", message: "step failed: no stock", nextPath: "error" });
      expect(body.stack).toContain("step failed: no stock");
      const chosen = await workers.request(
        stepRequest("inv-step-5", { input: { fail: "later", path: "retry-later" } }),
      );
      expect(chosen.json()).toMatchObject({ code: "FN_004", nextPath: "retry-later" });
      // The same function still serves HTTP through its fetch handler.
      const http = await workers.request({ path: "/invoke/after-step" });
      expect(http.status).toBe(200);
    });

    shimOnly("init - a baked container answers 409 to /init", async () => {
      const res = await workers.request({ method: "POST", path: "/init", body: "{}" });
      expect(res.status).toBe(409);
    });

    shimOnly("stem cell - a generic container loads code from a read-only mount on /init", async () => {
      const cell = await harness.start(`kumo/runtime-${lang}:latest`, {
        codeMount: harness.writeCode(jsFunctionFiles),
      });
      const before = await cell.request({ path: "/invoke/x" });
      expect(before.status).toBe(503);
      expect(before.headers["kumo-error"]).toBe("FN_008");
      // The node shim warms itself up with invocations marked by a token only it knows: a guessed
      // or empty one is an invocation like any other, refused before /init.
      for (const token of ["", "warm", "0".repeat(32)]) {
        const guessed = await cell.request({
          method: "POST",
          path: "/invoke/x",
          headers: { "kumo-warm-up": token },
        });
        expect(guessed.status).toBe(503);
      }
      // Connections stay open for the container's life (the autoscaler's /init reuses its readiness
      // check's): no keep-alive timeout is announced.
      if (lang !== "deno") expect(before.headers["keep-alive"]).toBeUndefined();
      const init = await cell.request({
        method: "POST",
        path: "/init",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ codeDir: "/code", handler: "index", env: { GREETING: "from-init" } }),
      });
      expect(init.status).toBe(200);
      const res = await cell.request({ path: "/invoke/hello", headers: { "kumo-invocation-id": "inv-s1" } });
      expect(res.status).toBe(200);
      expect(res.headers["x-env"]).toBe("from-init");
      expect(res.headers["x-dep"]).toBe("DEP!");
      const twice = await cell.request({
        method: "POST",
        path: "/init",
        body: JSON.stringify({ codeDir: "/code" }),
      });
      expect(twice.status).toBe(409);
    });
  });
}
