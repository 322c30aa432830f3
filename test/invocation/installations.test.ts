import { PlatformStore } from "@kumo/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { Plane, waitFor } from "./plane.ts";

/**
 * Issue 10.4: two installations on one NATS server, neither configured with KUMO_BUS_NAMESPACE
 * (as two `npm start` checkouts on one machine). Each keeps its identity in its own database and
 * namespaces all its traffic by it, so neither takes the other's work.
 */
const HELLO = `export default { fetch() { return new Response("hello from " + process.env.WHO); } };`;

let a: Plane;
let b: Plane;

beforeAll(async () => {
  a = await new Plane({ installationIdentity: true }).start();
  b = await new Plane({ installationIdentity: true }).start();
  // Both have a function of the same name; only A's is called.
  await Promise.all([
    a.deploy("hello", "node", { "index.mjs": HELLO }, { env: { WHO: "a" } }),
    b.deploy("hello", "node", { "index.mjs": HELLO }, { env: { WHO: "b" } }),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await a?.close();
  await b?.close();
});

describe("installations sharing one NATS server", () => {
  it("identity - each installation has its own, kept in its database", async () => {
    expect(a.namespace).toMatch(/^k[0-9a-f]{10}$/);
    expect(b.namespace).toMatch(/^k[0-9a-f]{10}$/);
    expect(a.namespace).not.toBe(b.namespace);
    // Asked again (another process starting on the same database), the answer is the same.
    expect(await new PlatformStore(a.gw.gateway.database.db).installationId()).toBe(a.namespace);
  });

  it("sync - every call reaches the installation's own autoscaler", async () => {
    const answers = await Promise.all(Array.from({ length: 24 }, () => a.invoke("hello")));
    expect(answers.map((r) => `${r.status} ${r.body}`)).toEqual(answers.map(() => "200 hello from a"));
    expect(b.nodes[0]?.autoscaler.status().pools ?? []).toEqual([]);
  });

  it("async - queued invocations are run by the installation's own autoscaler", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await a.invokeAsync("hello", { i });
      expect(res.status, res.body).toBe(202);
      ids.push(res.json.invocationId);
    }
    for (const id of ids) {
      const record = await waitFor(`invocation ${id}`, async () => {
        const res = await a.gw.call("GET", `/v1/invocations/${id}`, { key: a.tenant.key });
        return res.json?.status === "succeeded" ? res.json : undefined;
      });
      expect(record.result.body).toBe("hello from a");
    }
    expect(b.nodes[0]?.autoscaler.status().asyncInFlight).toBe(0);
  });
});
