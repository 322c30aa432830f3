import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runKumo } from "./support/run-kumo.ts";
import { envelope, StubServer, sendJson } from "./support/stub-server.ts";

let stub: StubServer;
let env: Record<string, string>;
beforeAll(async () => {
  stub = await StubServer.start();
  env = { KUMO_URL: stub.url, KUMO_API_KEY: "test-key" };
});
afterAll(async () => {
  await stub.stop();
});
beforeEach(() => stub.reset());

describe("kumo invoke", () => {
  it("POSTs --data as JSON to the invoke endpoint and prints the body as is", async () => {
    stub.on("POST /v1/functions/hello/invoke", (req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "kumo-invocation-id": "inv-1" });
      res.end(`got ${req.headers["content-type"]} ${req.body.toString()} ${req.headers["x-trace"]}`);
    });
    const result = await runKumo(["invoke", "hello", "-d", '{"a":1}', "-H", "X-Trace: t1"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('got application/json {"a":1} t1');
  });

  it("reads --data @file and returns status, headers and parsed body with --json", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kumo-invoke-"));
    await writeFile(join(dir, "event.json"), '{"user":"ann"}');
    stub.on("POST /v1/functions/hello/invoke", (req, res) => {
      res.writeHead(201, { "content-type": "application/json", "kumo-invocation-id": "inv-2" });
      res.end(JSON.stringify({ echo: JSON.parse(req.body.toString()) }));
    });
    const result = await runKumo(["invoke", "hello", "--data", "@event.json", "--json"], { env, cwd: dir });
    await rm(dir, { recursive: true, force: true });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      status: 201,
      invocationId: "inv-2",
      body: { echo: { user: "ann" } },
    });
  });

  it("sends @alias and @version through the invoke API", async () => {
    stub.on("POST /v1/functions/hello@beta/invoke", (_req, res) => sendJson(res, 200, { from: "beta" }));
    stub.on("POST /v1/functions/hello@v3/invoke", (_req, res) => sendJson(res, 200, { from: "v3" }));
    expect((await runKumo(["invoke", "hello@beta"], { env })).stdout).toBe('{"from":"beta"}');
    expect((await runKumo(["invoke", "hello@3"], { env })).stdout).toBe('{"from":"v3"}');
  });

  it("uses the public URL for --method and --path, sending the key only to functions that require one", async () => {
    let httpAuth = "public";
    stub.json("GET /v1/whoami", 200, {
      tenant: { id: "ten_1", name: "acme" },
      role: "invoker",
      keyId: "key_1",
    });
    stub.on("GET /v1/functions/hello", (_req, res) =>
      sendJson(res, 200, { name: "hello", config: { httpAuth } }),
    );
    stub.on("GET /fn/acme/hello@beta/users/7", (req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`user 7 q=${req.query.get("q")} auth=${req.headers.authorization ?? "none"}`);
    });
    const args = ["invoke", "hello@beta", "-X", "get", "--path", "/users/7?q=x"];
    const open = await runKumo(args, { env });
    expect(open.code).toBe(0);
    expect(open.stdout).toBe("user 7 q=x auth=none");
    httpAuth = "key";
    expect((await runKumo(args, { env })).stdout).toBe("user 7 q=x auth=Bearer test-key");
  });

  it("queues with --async and prints the invocation id", async () => {
    stub.on("POST /v1/functions/hello/invoke", (req, res) => {
      expect(req.headers["kumo-invocation-type"]).toBe("async");
      sendJson(res, 202, { invocationId: "0b7e7a3c-4d1f-4c55-9a1e-2f5e2b9c1d00" });
    });
    const result = await runKumo(["invoke", "hello", "--async"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("0b7e7a3c-4d1f-4c55-9a1e-2f5e2b9c1d00\n");
  });

  it("exits 1 with the function's error code when the handler throws", async () => {
    stub.on("POST /v1/functions/hello/invoke", (_req, res) => {
      res.writeHead(500, {
        "content-type": "application/json",
        "kumo-error": "FN_004",
        "kumo-invocation-id": "inv-3",
      });
      res.end(JSON.stringify({ code: "FN_004", message: "TypeError: x is undefined", stack: "at handler" }));
    });
    const result = await runKumo(["invoke", "hello"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "error FN_004: TypeError: x is undefined\n  logs of this invocation: kumo invocations inv-3\n",
    );
  });

  it("exits 4 for an unknown function, 1 when the function answers >= 400 itself", async () => {
    stub.json("POST /v1/functions/ghost/invoke", 404, envelope("FN_001", "function ghost not found"));
    stub.on("POST /v1/functions/hello/invoke", (_req, res) => {
      res.writeHead(404, { "content-type": "text/plain", "kumo-invocation-id": "inv-4" });
      res.end("no such user");
    });
    const ghost = await runKumo(["invoke", "ghost"], { env });
    expect(ghost.code).toBe(4);
    expect(ghost.stderr).toContain("error FN_001: function ghost not found");
    const own = await runKumo(["invoke", "hello"], { env });
    expect(own.code).toBe(1);
    expect(own.stdout).toBe("no such user");
    expect(own.stderr).toContain("hello answered HTTP 404");
  });

  it("rejects malformed headers and paths as usage errors", async () => {
    expect((await runKumo(["invoke", "hello", "-H", "no-colon"], { env })).code).toBe(2);
    expect((await runKumo(["invoke", "hello", "--path", "users"], { env })).code).toBe(2);
    expect((await runKumo(["invoke", "hello", "-X", "BREW"], { env })).code).toBe(2);
    expect(stub.requests).toHaveLength(0);
  });
});
