import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { type DeployedFunction, Plane, waitFor } from "./plane.ts";

const HELLO = `export default { fetch() { return new Response("warm"); } };\n`;

let plane: Plane;
let warm: DeployedFunction;
let cold: DeployedFunction;

beforeAll(async () => {
  plane = await new Plane({ autoscalers: 2 }).start();
  warm = await plane.deploy(
    "warm",
    "node",
    { "index.mjs": HELLO },
    { scaling: { minInstances: 3, maxInstances: 4 } },
  );
  cold = await plane.register("cold", "node", warm.image, { scaling: { minInstances: 0 } });
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await plane?.close();
}, SETUP_TIMEOUT_MS);

/** Ready instances of a version on each live node of the plane. */
function instancesPerNode(versionId: string): number[] {
  return plane.nodes.map(
    (n) =>
      n.autoscaler.status().pools.find((p) => p.versionId === versionId && p.state === "active")?.instances ??
      0,
  );
}

describe("invocation plane - minInstances", () => {
  it("minInstances - routed versions are warm without a request, the count split between the nodes", async () => {
    const split = await waitFor(
      "3 warm instances across the nodes",
      async () => {
        const counts = instancesPerNode(warm.versionId);
        return counts.reduce((a, b) => a + b, 0) === 3 ? counts : undefined;
      },
      30_000,
    );
    expect([...split].sort()).toEqual([1, 2]);
    expect(instancesPerNode(cold.versionId)).toEqual([0, 0]);
    const res = await plane.invoke("warm", { method: "GET" });
    expect(res.status).toBe(200);
    expect(res.headers["kumo-cold-start"]).toBe("warm");
  });

  it("minInstances - when a node leaves, the others take over its share", async () => {
    const gone = plane.nodes.pop();
    await gone?.autoscaler.stop();
    await waitFor(
      "the remaining node to keep all 3 warm",
      async () => (instancesPerNode(warm.versionId)[0] === 3 ? true : undefined),
      30_000,
    );
  });
});
