import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { Plane, waitFor } from "./plane.ts";

const WORKER = `export async function handler(event) {
  const input = event.body ? JSON.parse(event.body) : {};
  if (process.env.MODE === "fail") throw new Error("failing on purpose");
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ n: input.n ?? null }) };
}
`;

// Destinations only ever point at this server on 127.0.0.1, with the operator flag on.
let server: Server;
let base = "";
const hits: { path: string; body: Record<string, unknown> }[] = [];
let flakyFailures = 1;
let released = false;
let plane: Plane;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      hits.push({ path, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      if (path === "/hold" && !released) return; // no answer: the delivery hangs
      if (path === "/flaky" && flakyFailures-- > 0) res.writeHead(503).end();
      else res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  plane = await new Plane({
    autoscalerEnv: { KUMO_DESTINATIONS_ALLOW_PRIVATE: "true", KUMO_DESTINATION_RETRY_BASE: "100ms" },
  }).start();
  await Promise.all([
    plane.deploy(
      "good",
      "node",
      { "index.mjs": WORKER },
      { destinations: { onSuccess: `${base}/ok`, onFailure: `${base}/never` } },
    ),
    plane.deploy(
      "bad",
      "node",
      { "index.mjs": WORKER },
      { env: { MODE: "fail" }, maxRetries: 1, destinations: { onFailure: `${base}/flaky` } },
    ),
    plane.deploy("held", "node", { "index.mjs": WORKER }, { destinations: { onSuccess: `${base}/hold` } }),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await plane?.close();
  await new Promise((r) => server?.close(r));
}, SETUP_TIMEOUT_MS);

describe("invocation plane - destinations", () => {
  it("destinations - a succeeded async invocation is POSTed to onSuccess with its result", async () => {
    const res = await plane.invokeAsync("good", { n: 5 });
    expect(res.status, res.body).toBe(202);
    const id = res.json.invocationId as string;
    const hit = await waitFor("the onSuccess POST", async () =>
      hits.find((h) => h.path === "/ok" && h.body.invocationId === id),
    );
    expect(hit.body).toMatchObject({
      invocationId: id,
      function: "good",
      version: 1,
      status: "succeeded",
      errorCode: null,
      attempts: 1,
      destination: "onSuccess",
      result: { statusCode: 200, body: '{"n":5}', bodyEncoding: "utf8", truncated: false },
    });
    expect(hits.some((h) => h.path === "/never")).toBe(false);
  });

  it("destinations - a failure after the last retry reaches onFailure, retried past a 503, and is logged", async () => {
    const res = await plane.invokeAsync("bad", { n: 1 });
    const id = res.json.invocationId as string;
    const hit = await waitFor(
      "the onFailure POST",
      async () => hits.filter((h) => h.path === "/flaky" && h.body.invocationId === id)[1],
      20_000,
    );
    expect(hit.body).toMatchObject({ status: "failed", errorCode: "FN_004", attempts: 2, function: "bad" });
    const record = await waitFor("the delivery log line", async () => {
      const r = await plane.gw.call("GET", `/v1/invocations/${id}`, { key: plane.tenant.key });
      return r.json?.logs?.some((l: { message: string }) =>
        /destination onFailure .*delivered \(200\) after 2/.test(l.message),
      )
        ? r.json
        : undefined;
    });
    expect(record.status).toBe("failed");
  });

  it("destinations - a delivery cut short by a stopping node is made by another node", async () => {
    const res = await plane.invokeAsync("held", { n: 9 });
    const id = res.json.invocationId as string;
    const first = plane.nodes[0];
    if (!first) throw new Error("no node");
    // The only node runs it and starts the delivery, which hangs; then a second node joins and the
    // first one stops before the destination ever answers.
    await waitFor("the first delivery attempt", async () =>
      hits.some((h) => h.path === "/hold" && h.body.invocationId === id),
    );
    await plane.addNode();
    released = true;
    const before = hits.filter((h) => h.path === "/hold").length;
    await first.autoscaler.stop();
    plane.nodes.splice(plane.nodes.indexOf(first), 1);
    const record = await waitFor(
      "the delivery by the second node",
      async () => {
        const r = await plane.gw.call("GET", `/v1/invocations/${id}`, { key: plane.tenant.key });
        return r.json?.logs?.some((l: { message: string }) =>
          /destination onSuccess .*delivered \(200\)/.test(l.message),
        )
          ? r.json
          : undefined;
      },
      20_000,
    );
    expect(record.status).toBe("succeeded");
    expect(hits.filter((h) => h.path === "/hold").length).toBeGreaterThan(before);
  });

  it("destinations - kumo.json refuses a destination that is not an http(s) URL", async () => {
    const res = await plane.gw.call("POST", "/v1/functions", {
      key: plane.tenant.key,
      body: {
        name: "hooked",
        runtime: "node",
        config: { destinations: { onSuccess: "file:///etc/passwd" } },
      },
    });
    expect(res.status, res.body).toBe(400);
    expect(res.body).toContain("destinations.onSuccess");
  });
});
