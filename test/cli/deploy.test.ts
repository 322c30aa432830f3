import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { list as listTar } from "tar";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runKumo } from "./support/run-kumo.ts";
import { envelope, StubServer, sendJson } from "./support/stub-server.ts";

let stub: StubServer;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  stub = await StubServer.start();
  env = { KUMO_URL: stub.url, KUMO_API_KEY: "test-key" };
});
afterAll(async () => {
  await stub.stop();
});
beforeEach(async () => {
  stub.reset();
  dir = await mkdtemp(join(tmpdir(), "kumo-deploy-"));
  await writeFile(
    join(dir, "kumo.json"),
    JSON.stringify({ name: "hello", runtime: "edge", timeoutMs: "5s" }),
  );
  await writeFile(join(dir, "index.js"), "export default { fetch() { return new Response('hi') } }");
  await mkdir(join(dir, "node_modules", "dep"), { recursive: true });
  await writeFile(join(dir, "node_modules", "dep", "index.js"), "");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fn = (liveVersion: number | null) => ({
  id: "fn_1",
  name: "hello",
  runtime: "edge",
  config: {},
  createdAt: "2025-01-01T10:00:00Z",
  updatedAt: "2025-01-01T10:00:00Z",
  url: `${stub.url}/fn/acme/hello/`,
  liveVersion,
});
const deployment = (status: string, extra: Record<string, unknown> = {}) => ({
  id: "dep_1",
  status,
  version: status === "succeeded" ? 1 : null,
  error: null,
  createdAt: "2025-01-01T12:00:00Z",
  ...extra,
});

async function tarEntries(data: Buffer): Promise<string[]> {
  const paths: string[] = [];
  const parser = listTar({ onReadEntry: (entry) => paths.push(entry.path) });
  await new Promise<void>((resolve, reject) =>
    Readable.from([data]).pipe(parser).on("end", resolve).on("error", reject),
  );
  return paths;
}

describe("kumo deploy", () => {
  it("creates a missing function, uploads tar.gz, follows the build log and prints version and URL", async () => {
    let created = false;
    stub.on("GET /v1/functions/hello", (_req, res) =>
      created
        ? sendJson(res, 200, fn(1))
        : sendJson(res, 404, envelope("FN_001", "function hello not found")),
    );
    stub.on("POST /v1/functions", (_req, res) => {
      created = true;
      sendJson(res, 201, fn(null));
    });
    stub.json("POST /v1/functions/hello/deployments", 202, deployment("queued"));
    stub.on("GET /v1/functions/hello/deployments/dep_1", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`event: log\ndata: ${JSON.stringify({ line: "bundling index.js" })}\n\n`);
      res.write(`event: log\ndata: ${JSON.stringify({ line: "bundle 1.2 KiB" })}\n\n`);
      res.end(`event: status\ndata: ${JSON.stringify(deployment("succeeded"))}\n\n`);
    });

    const result = await runKumo(["deploy", dir], { env });
    expect(result.stderr).not.toContain("error");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Deployed hello v1 (new function)\nURL: ${stub.url}/fn/acme/hello/\n`);
    expect(result.stderr).toContain("  │ bundling index.js\n  │ bundle 1.2 KiB\n");

    const create = stub.requests.find((r) => r.method === "POST" && r.path === "/v1/functions");
    expect(JSON.parse(create?.body.toString() ?? "")).toEqual({
      name: "hello",
      runtime: "edge",
      config: { runtime: "edge", timeoutMs: "5s" },
    });
    const upload = stub.requests.find((r) => r.path === "/v1/functions/hello/deployments");
    expect(upload?.headers["content-type"]).toBe("application/gzip");
    expect(await tarEntries(upload?.body ?? Buffer.alloc(0))).toEqual(["index.js", "kumo.json"]);
    const follow = stub.requests.find((r) => r.path === "/v1/functions/hello/deployments/dep_1");
    expect(follow?.query.get("follow")).toBe("1");
  });

  it("polls when the server does not stream, and fails with FN_005 and exit 1 on a failed build", async () => {
    stub.json("GET /v1/functions/hello", 200, fn(3));
    stub.json("POST /v1/functions/hello/deployments", 202, deployment("queued"));
    let polls = 0;
    stub.on("GET /v1/functions/hello/deployments/dep_1", (_req, res) => {
      polls++;
      const done = polls >= 2;
      sendJson(
        res,
        200,
        deployment(done ? "failed" : "building", {
          log: done ? "step 1\nSyntaxError: Unexpected token\n" : "step 1\n",
          error: done ? { code: "FN_005", message: "build failed: SyntaxError in index.js:1" } : null,
        }),
      );
    });
    const result = await runKumo(["deploy", dir, "--json"], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.match(/step 1/g)).toHaveLength(1);
    expect(result.stderr).toContain("SyntaxError: Unexpected token");
    expect(result.stderr).toContain('"code":"FN_005","message":"build failed: SyntaxError in index.js:1"');
    expect(stub.requests.some((r) => r.method === "POST" && r.path === "/v1/functions")).toBe(false);
  });

  it("a failed first deploy removes the function it created; a failed deploy of an existing one does not", async () => {
    let exists = false;
    stub.on("GET /v1/functions/hello", (_req, res) =>
      exists
        ? sendJson(res, 200, fn(null))
        : sendJson(res, 404, envelope("FN_001", "function hello not found")),
    );
    stub.on("POST /v1/functions", (_req, res) => {
      exists = true;
      sendJson(res, 201, fn(null));
    });
    stub.on("DELETE /v1/functions/hello", (_req, res) => {
      exists = false;
      res.writeHead(204).end();
    });
    stub.json("POST /v1/functions/hello/deployments", 202, deployment("queued"));
    stub.json(
      "GET /v1/functions/hello/deployments/dep_1",
      200,
      deployment("failed", { error: { code: "FN_005", message: "build failed: npm error code E404" } }),
    );
    const first = await runKumo(["deploy", dir], { env });
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("build failed: npm error code E404");
    expect(first.stderr).toContain("function hello was created by this deploy and has been removed again");
    expect(exists).toBe(false);
    expect(stub.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([
      "/v1/functions/hello",
    ]);

    stub.requests.length = 0;
    exists = true;
    const again = await runKumo(["deploy", dir], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).not.toContain("removed again");
    expect(exists).toBe(true);
    expect(stub.requests.some((r) => r.method === "DELETE")).toBe(false);
  });

  it("validates kumo.json before touching the server", async () => {
    await writeFile(
      join(dir, "kumo.json"),
      JSON.stringify({ runtime: "edge", memoryMb: 99999, triggers: [{ type: "cron" }] }),
    );
    const result = await runKumo(["deploy", dir], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error FN_006: invalid ${join(dir, "kumo.json")} (2 problems)`);
    expect(result.stderr).toMatch(/ {2}- memoryMb: .*4096/);
    expect(result.stderr).toContain("  - triggers.0.schedule:");
    expect(stub.requests).toHaveLength(0);

    await rm(join(dir, "kumo.json"));
    const missing = await runKumo(["deploy", dir], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no kumo.json in");
  });

  it("takes --name over kumo.json and rejects names that are not resource names", async () => {
    const bad = await runKumo(["deploy", dir, "--name", "Bad_Name"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid function name "Bad_Name" (from --name)');
    expect(stub.requests).toHaveLength(0);
  });
});
