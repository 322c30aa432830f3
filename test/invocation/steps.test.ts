import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { Plane, waitFor } from "./plane.ts";

const STEP = `export async function step(input, context) {
  console.log("pricing", input.sku, "for", context.workflowId);
  if (input.sku === "none") throw new Error("unknown sku");
  return { output: { sku: input.sku, price: input.qty * 3, fnVersion: context.version }, nextPath: input.qty > 10 ? "bulk" : "retail" };
}
`;

// Destinations only ever point at this server on 127.0.0.1, with the operator flag on.
let server: Server;
let base = "";
const hits: { path: string; body: Record<string, unknown> }[] = [];
let plane: Plane;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      hits.push({ path: req.url ?? "/", body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  plane = await new Plane({
    autoscalerEnv: { KUMO_DESTINATIONS_ALLOW_PRIVATE: "true", KUMO_DESTINATION_RETRY_BASE: "100ms" },
  }).start();
  await plane.deploy(
    "pricing",
    "node",
    { "index.mjs": STEP },
    { maxRetries: 0, destinations: { onSuccess: `${base}/ok`, onFailure: `${base}/failed` } },
  );
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await plane?.close();
  await new Promise((r) => server?.close(r));
}, SETUP_TIMEOUT_MS);

const run = (body: unknown, headers: Record<string, string> = {}) =>
  plane.gw.call("POST", "/v1/functions/pricing/run", { key: plane.tenant.key, body, headers });

describe("invocation plane - workflow steps", () => {
  it("step runs - a container step answers output, nextPath and its own log lines; recorded with trigger step", async () => {
    const res = await run({ input: { sku: "a-1", qty: 12 }, context: { workflowId: "wf-9", runId: "r1" } });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toMatchObject({
      output: { sku: "a-1", price: 36, fnVersion: 1 },
      nextPath: "bulk",
      version: 1,
    });
    expect(res.json.error).toBeUndefined();
    expect(res.json.logs).toEqual([
      expect.objectContaining({ level: "info", message: "pricing a-1 for wf-9" }),
    ]);
    const id = res.json.invocationId as string;
    const record = await waitFor("the step's record", async () => {
      const r = await plane.gw.call("GET", `/v1/invocations/${id}`, { key: plane.tenant.key });
      return r.status === 200 && r.json.status === "succeeded" ? r.json : undefined;
    });
    expect(record.trigger).toBe("step");
  });

  it("step runs - a container step's throw is answered in-band on the error path", async () => {
    const res = await run({ input: { sku: "none", qty: 1 } });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toMatchObject({
      output: null,
      nextPath: "error",
      error: { code: "FN_004", message: "unknown sku" },
    });
    expect(res.json.error.stack).toContain("unknown sku");
  });

  it("step runs - async: 202 at once, the destination gets the same step object", async () => {
    const res = await run(
      { input: { sku: "b-2", qty: 2 }, context: { workflowId: "wf-a" } },
      {
        "kumo-invocation-type": "async",
      },
    );
    expect(res.status, res.body).toBe(202);
    const id = res.json.invocationId as string;
    const hit = await waitFor("the onSuccess POST", async () =>
      hits.find((h) => h.path === "/ok" && h.body.invocationId === id),
    );
    expect(hit.body).toMatchObject({
      status: "succeeded",
      step: { output: { sku: "b-2", price: 6, fnVersion: 1 }, nextPath: "retail" },
    });
    const failed = await run({ input: { sku: "none", qty: 1 } }, { "kumo-invocation-type": "async" });
    const failedId = failed.json.invocationId as string;
    const miss = await waitFor("the onFailure POST", async () =>
      hits.find((h) => h.path === "/failed" && h.body.invocationId === failedId),
    );
    expect(miss.body).toMatchObject({
      status: "failed",
      errorCode: "FN_004",
      step: { output: null, nextPath: "error", error: { code: "FN_004", message: "unknown sku" } },
    });
    const record = await plane.gw.call("GET", `/v1/invocations/${id}`, { key: plane.tenant.key });
    expect(record.json.trigger).toBe("step");
  });
});
