import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { expectError } from "./api-helpers.ts";

/**
 * Edge deploy options from kumo.json, through the gateway: the Node compatibility layer, handlerShape
 * and source-mapped stacks in the invocation record (runtimes/edge has the unit tests of each).
 */
let t: TestGateway;
let tenant: { name: string; key: string };

beforeAll(async () => {
  t = await startTestGateway({ edge: true });
  tenant = await t.tenant();
});
afterAll(async () => {
  await t?.close();
});

async function deploy(name: string, files: Record<string, string>) {
  const created = await t.call("POST", "/v1/functions", { key: tenant.key, body: { name, runtime: "edge" } });
  expect(created.status, created.body).toBe(201);
  return t.call("POST", `/v1/functions/${name}/deployments`, { key: tenant.key, body: { files } });
}

const NODE_CODE = `import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
export default async function (request: Request) {
  const bus = new EventEmitter(); let heard = "";
  bus.on("x", (v: string) => { heard = v; });
  bus.emit("x", Buffer.from(new URL(request.url).pathname).toString("base64"));
  return Response.json({ heard, md5: createHash("md5").update("kumo").digest("hex"), env: process.env.MODE });
}`;

describe("edge deploy options", () => {
  it("nodejs - kumo.json's compatibility flag lets node: modules deploy and run; without it FN_005 names the flag", async () => {
    const refused = await deploy("no-compat", {
      "index.ts": NODE_CODE,
      "kumo.json": JSON.stringify({ runtime: "edge" }),
    });
    const error = expectError(refused, 422, "FN_005");
    expect(error.message).toContain('"node:crypto"');
    expect(error.message).toContain('"compatibility": ["nodejs"]');

    const dep = await deploy("with-compat", {
      "index.ts": NODE_CODE,
      "kumo.json": JSON.stringify({ runtime: "edge", compatibility: ["nodejs"], env: { MODE: "prod" } }),
    });
    expect(dep.status, dep.body).toBe(202);
    expect(dep.json.status).toBe("succeeded");
    const res = await t.call("GET", `/fn/${tenant.name}/with-compat/hello`);
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({
      heard: Buffer.from("/hello").toString("base64"),
      md5: createHash("md5").update("kumo").digest("hex"),
      env: "prod",
    });
  });

  it("handlerShape - a container-only shape on edge fails the deploy with FN_005 naming the edge shapes", async () => {
    const dep = await deploy("node-shape", {
      "index.ts": `export default (req: any, res: any) => res.end("x");`,
      "kumo.json": JSON.stringify({ runtime: "edge", handlerShape: "node-http" }),
    });
    const error = expectError(dep, 422, "FN_005");
    expect(error.message).toContain("workers, deno-serve, web, lambda, openfaas, knative, step");
  });

  it("handlerShape - a declared shape is honoured on edge", async () => {
    const dep = await deploy("declared-web", {
      "index.ts": `export default async function (event: any, context: any) {
        return event instanceof Request ? new Response("web") : context.status(200).succeed("openfaas");
      }`,
      "kumo.json": JSON.stringify({ runtime: "edge", handlerShape: "web" }),
    });
    expect(dep.status, dep.body).toBe(202);
    const res = await t.call("GET", `/fn/${tenant.name}/declared-web/`);
    expect([res.status, res.body]).toEqual([200, "web"]);
  });

  it("source maps - the invocation record's stack names src/lib.ts:LINE; the public body has no stack", async () => {
    const dep = await deploy("mapped", {
      "src/index.ts": `import { check } from "./lib.ts";\nexport default { fetch() { check(-1); return new Response("no"); } };`,
      "src/lib.ts": `export function check(n: number): void {\n  if (n < 0) {\n    throw new RangeError("negative: " + n);\n  }\n}\n`,
      "kumo.json": JSON.stringify({ runtime: "edge" }),
    });
    expect(dep.status, dep.body).toBe(202);
    const res = await t.call("GET", `/fn/${tenant.name}/mapped/`);
    expect(res.status).toBe(500);
    expect(res.body).not.toContain("lib.ts");
    const id = String(res.headers["kumo-invocation-id"]);
    await t.gateway.flushRecords();
    const record = await t.call("GET", `/v1/invocations/${id}`, { key: tenant.key });
    expect(record.status, record.body).toBe(200);
    const logged = (record.json.logs as { level: string; message: string }[]).find(
      (l) => l.level === "error",
    );
    expect(logged?.message).toContain("RangeError: negative: -1");
    expect(logged?.message).toMatch(/at check \(src\/lib\.ts:3:\d+\)/);
    expect(record.body).not.toContain("kumo:fn/");
  });
});
