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

const hello = {
  id: "fn_1",
  name: "hello",
  runtime: "edge",
  config: { memoryMb: 128 },
  createdAt: "2025-01-01T10:00:00Z",
  updatedAt: "2025-01-01T11:55:00Z",
  url: "http://127.0.0.1:8080/fn/acme/hello/",
  liveVersion: 2,
};

describe("cli - exit codes", () => {
  it("maps FN_001 to 4, FN_009 to 3, other server codes to 1, and prints code and message", async () => {
    stub.json("GET /v1/functions/ghost", 404, envelope("FN_001", 'function "ghost" not found'));
    stub.json("GET /v1/functions/locked", 403, envelope("FN_009", "role viewer may not do this"));
    stub.json(
      "GET /v1/functions/bad",
      400,
      envelope("FN_006", "invalid request", { problems: [{ field: "x", message: "bad" }] }),
    );
    stub.json("GET /v1/functions/boom", 500, envelope("FN_500", "internal error: db down"));

    const ghost = await runKumo(["functions", "get", "ghost"], { env });
    expect(ghost).toMatchObject({ code: 4, stdout: "" });
    expect(ghost.stderr).toBe('error FN_001: function "ghost" not found\n');

    const locked = await runKumo(["functions", "get", "locked"], { env });
    expect(locked.code).toBe(3);
    expect(locked.stderr).toContain("error FN_009: role viewer may not do this");

    const bad = await runKumo(["functions", "get", "bad"], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("error FN_006: invalid request\n  - x: bad\n");

    expect((await runKumo(["functions", "get", "boom"], { env })).code).toBe(1);
  });

  it("uses 2 for usage errors without contacting the server, 3 without a key", async () => {
    const unknown = await runKumo(["functons"], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("did you mean `kumo functions`?");
    expect((await runKumo(["functions", "explode"], { env })).code).toBe(2);
    expect((await runKumo(["rollback", "hello", "--to", "latest"], { env })).code).toBe(2);
    expect((await runKumo(["env", "hello", "set", "1BAD=x"], { env })).code).toBe(2);
    expect(stub.requests).toHaveLength(0);

    const anonymous = await runKumo(["functions"], { env: { KUMO_URL: stub.url } });
    expect(anonymous.code).toBe(3);
    expect(anonymous.stderr).toContain("run `kumo login` or set KUMO_API_KEY");
  });

  it("says clearly when the server has no such endpoint yet", async () => {
    const result = await runKumo(["secrets"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "the server does not support GET /v1/secrets (HTTP 404: Route GET:/v1/secrets not found)",
    );
  });

  it("prints errors as a JSON envelope on stderr with --json", async () => {
    stub.json("GET /v1/functions/ghost", 404, envelope("FN_001", "function not found"));
    const result = await runKumo(["--json", "functions", "get", "ghost"], { env });
    expect(result.code).toBe(4);
    expect(result.stdout).toBe("");
    expect(JSON.parse(result.stderr)).toEqual({ error: { code: "FN_001", message: "function not found" } });
  });

  it("prints help with exit 0, and the bare command with exit 2", async () => {
    const help = await runKumo(["deploy", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: kumo deploy [dir] [--name NAME]");
    expect((await runKumo(["help", "invoke"])).stdout).toContain("--async");
    const bare = await runKumo([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("Commands:");
  });
});

describe("cli - output modes", () => {
  it("lists functions as a table, or the server's page as JSON", async () => {
    stub.json("GET /v1/functions", 200, { items: [hello], nextCursor: "c2" });
    const human = await runKumo(["functions"], { env });
    expect(human.code).toBe(0);
    expect(human.stdout.split("\n")).toEqual([
      "NAME   RUNTIME  LIVE  UPDATED  URL",
      `hello  edge     v2    5m ago   ${hello.url}`,
      "",
    ]);
    expect(human.stderr).toContain("more: kumo functions list --cursor c2");

    const json = await runKumo(["functions", "list", "--json", "--limit", "5"], { env });
    expect(JSON.parse(json.stdout)).toEqual({ items: [hello], nextCursor: "c2" });
    expect(json.stderr).toBe("");
    expect(stub.requests.at(-1)?.query.get("limit")).toBe("5");
    expect(stub.requests.at(-1)?.headers.authorization).toBe("Bearer test-key");
  });

  it("shows versions with the live marker and alias routing", async () => {
    stub.json("GET /v1/functions/hello/versions", 200, {
      items: [
        {
          id: "ver_2",
          version: 2,
          sourceDigest: "sha256:abcdef0123456789",
          runtime: "edge",
          createdAt: "2025-01-01T11:00:00Z",
          createdBy: "key_1",
        },
        {
          id: "ver_1",
          version: 1,
          sourceDigest: "sha256:0000000000000000",
          runtime: "edge",
          createdAt: "2024-12-31T12:00:00Z",
          createdBy: null,
        },
      ],
      nextCursor: null,
    });
    stub.json("GET /v1/functions/hello/aliases", 200, {
      items: [
        {
          name: "canary",
          routing: [
            { version: 1, weight: 90 },
            { version: 2, weight: 10 },
          ],
          updatedAt: "2025-01-01T11:00:00Z",
        },
      ],
      nextCursor: null,
    });
    stub.json("GET /v1/functions/hello", 200, hello);
    const result = await runKumo(["versions", "hello"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      "   VERSION  CREATED  BY     DIGEST        ALIASES",
      "*  v2       1h ago   key_1  abcdef012345  canary 10%",
      "   v1       1d ago   -      000000000000  canary 90%",
      "",
    ]);
  });

  it("sends rollback, alias, env and secrets requests as the API expects", async () => {
    stub.json("POST /v1/functions/hello/rollback", 200, { alias: "live", from: 4, to: 3 });
    stub.json("PUT /v1/functions/hello/aliases/canary", 200, {
      name: "canary",
      routing: [
        { version: 3, weight: 90 },
        { version: 4, weight: 10 },
      ],
      updatedAt: "2025-01-01T12:00:00Z",
    });
    stub.on("PUT /v1/functions/hello/env/API_URL", (_req, res) => sendJson(res, 204, null));
    stub.on("PUT /v1/functions/hello/env/MODE", (_req, res) => sendJson(res, 204, null));
    stub.on("PUT /v1/secrets/DB_PASSWORD", (req, res) =>
      sendJson(res, 200, { name: "DB_PASSWORD", version: req.body.length }),
    );

    const rollback = await runKumo(["rollback", "hello", "--to", "v3"], { env });
    expect(rollback.stdout).toBe("Rolled back hello: live now serves v3 (was v4).\n");
    expect(JSON.parse(stub.requests.at(-1)?.body.toString() ?? "")).toEqual({ to: 3 });

    const alias = await runKumo(["alias", "set", "hello", "canary", "v3=90", "v4=10"], { env });
    expect(alias.stdout).toBe("hello@canary → v3 90%, v4 10%\n");
    expect(JSON.parse(stub.requests.at(-1)?.body.toString() ?? "")).toEqual({
      routing: [
        { version: 3, weight: 90 },
        { version: 4, weight: 10 },
      ],
    });

    const setEnv = await runKumo(["env", "hello", "set", "API_URL=https://a.example/?x=1", "MODE="], { env });
    expect(setEnv.code).toBe(0);
    expect(stub.requests.slice(-2).map((r) => [r.path, JSON.parse(r.body.toString())])).toEqual([
      ["/v1/functions/hello/env/API_URL", { value: "https://a.example/?x=1" }],
      ["/v1/functions/hello/env/MODE", { value: "" }],
    ]);

    const secret = await runKumo(["secrets", "set", "DB_PASSWORD", "--json"], { env, stdin: "s3cret\n" });
    expect(secret.code).toBe(0);
    expect(JSON.parse(stub.requests.at(-1)?.body.toString() ?? "")).toEqual({ value: "s3cret" });
    expect(JSON.parse(secret.stdout)).toMatchObject({ name: "DB_PASSWORD" });
    expect(secret.stdout).not.toContain("s3cret");
  });

  it("creates keys in the caller's tenant and prints the key once", async () => {
    stub.json("GET /v1/whoami", 200, {
      tenant: { id: "ten_1", name: "acme" },
      role: "admin",
      keyId: "key_1",
    });
    stub.json("POST /v1/tenants/acme/api-keys", 201, {
      id: "key_2",
      name: "ci",
      role: "developer",
      key: "kumo_secret_value",
      createdAt: "2025-01-01T12:00:00Z",
    });
    const result = await runKumo(["keys", "create", "--role", "developer", "--name", "ci"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("kumo_secret_value\n");
    expect(result.stderr).toContain("shown only this once");
    expect(JSON.parse(stub.requests.at(-1)?.body.toString() ?? "")).toEqual({
      role: "developer",
      name: "ci",
    });
    expect((await runKumo(["keys", "create", "--role", "root"], { env })).code).toBe(2);
  });

  it("shows one invocation by id and filters history by status", async () => {
    const id = "0b7e7a3c-4d1f-4c55-9a1e-2f5e2b9c1d00";
    stub.json(`GET /v1/invocations/${id}`, 200, {
      id,
      functionName: "hello",
      version: 2,
      trigger: "http",
      status: "failed",
      errorCode: "FN_004",
      durationMs: 12,
      coldStart: true,
      startedAt: "2025-01-01T11:59:00Z",
      errorMessage: "TypeError: x is undefined",
      result: {
        statusCode: 500,
        headers: { "content-type": "application/json" },
        body: '{"code":"FN_004"}',
        isBase64Encoded: false,
      },
      logs: [{ ts: "2025-01-01T11:59:00.010Z", level: "error", message: "boom" }],
    });
    stub.json("GET /v1/functions/hello/invocations", 200, { items: [], nextCursor: null });
    const one = await runKumo(["invocations", id], { env });
    expect(one.stdout).toContain("status:     failed (FN_004)");
    expect(one.stdout).toContain("error:      TypeError: x is undefined");
    expect(one.stdout).toContain('result: 500, application/json\n  {"code":"FN_004"}\n');
    expect(one.stdout).toContain("2025-01-01 11:59:00.010 ERROR boom");
    const png = "1b7e7a3c-4d1f-4c55-9a1e-2f5e2b9c1d00";
    stub.json(`GET /v1/invocations/${png}`, 200, {
      id: png,
      functionName: "hello",
      version: 2,
      trigger: "http",
      status: "succeeded",
      errorCode: null,
      durationMs: 3,
      coldStart: false,
      startedAt: "2025-01-01T11:59:00Z",
      result: {
        statusCode: 200,
        headers: {},
        body: Buffer.from([1, 2, 3]).toString("base64"),
        isBase64Encoded: true,
      },
      logs: [],
    });
    expect((await runKumo(["invocations", png], { env })).stdout).toContain(
      "result: 200\n  (3 bytes of binary; --json shows them base64)\n",
    );
    const none = await runKumo(["invocations", "hello", "--status", "failed"], { env });
    expect(none.stdout).toBe("No invocations of hello with status failed.\n");
    expect(stub.requests.at(-1)?.query.get("status")).toBe("failed");
  });

  it("prints logs as lines, or JSON lines with --json", async () => {
    const lines = [
      { ts: "2025-01-01T11:59:00.000Z", invocationId: "0b7e7a3c-aaaa", level: "info", message: "hi" },
      { ts: "2025-01-01T11:59:01.500Z", invocationId: null, level: "warn", message: "careful" },
    ];
    stub.json("GET /v1/functions/hello/logs", 200, { items: lines, nextCursor: null });
    const human = await runKumo(["logs", "hello", "--since", "10m"], { env });
    expect(human.stdout).toBe(
      "2025-01-01 11:59:00.000 INFO  [0b7e7a3c] hi\n2025-01-01 11:59:01.500 WARN  careful\n",
    );
    expect(stub.requests.at(-1)?.query.get("since")).toBe("2025-01-01T11:50:00.000Z");
    const json = await runKumo(["logs", "hello", "--json"], { env });
    expect(
      json.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual(lines);
  });

  it("follows logs over SSE", async () => {
    stub.on("GET /v1/functions/hello/logs", (req, res) => {
      expect(req.query.get("follow")).toBe("1");
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(
        `event: log\ndata: ${JSON.stringify({ ts: 0, invocationId: null, level: "info", message: "one" })}\n\n`,
      );
      res.end(
        `event: log\ndata: ${JSON.stringify({ ts: 1000, invocationId: null, level: "error", message: "two" })}\n\n`,
      );
    });
    const result = await runKumo(["logs", "hello", "-f"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("1970-01-01 00:00:00.000 INFO  one\n1970-01-01 00:00:01.000 ERROR two\n");
  });
});
