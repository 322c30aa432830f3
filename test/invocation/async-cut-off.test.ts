import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { Plane, waitFor } from "./plane.ts";

// Both send their response head and a first chunk, then never finish the body: one process
// exits, the other hangs past its timeout. The async worker reads bodies whole, so these are
// failures found while reading the body, after the head arrived.
const EXITS = `export default {
  fetch() {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("partial"));
        setTimeout(() => process.exit(7), 100);
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain" } });
  },
};
`;
const HANGS = `export default {
  fetch() {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("partial"));
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain" } });
  },
};
`;

let plane: Plane;

beforeAll(async () => {
  plane = await new Plane().start();
  await Promise.all([
    plane.deploy("exits", "node", { "index.mjs": EXITS }, { maxRetries: 0 }),
    plane.deploy("hangs", "node", { "index.mjs": HANGS }, { maxRetries: 0, timeoutMs: "1s" }),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await plane?.close();
}, SETUP_TIMEOUT_MS);

async function deadLetter(id: string) {
  return waitFor(`the dead letter of ${id}`, async () => {
    const res = await plane.gw.call("GET", `/v1/invocations/${id}`, { key: plane.tenant.key });
    return res.status === 200 && res.json.deadLettered ? res.json : undefined;
  });
}

describe("invocation plane - async bodies cut off", () => {
  it("async - a process that exits after its response head is FN_004, dead-lettered with no retries left", async () => {
    const res = await plane.invokeAsync("exits", {});
    expect(res.status, res.body).toBe(202);
    const dead = await deadLetter(res.json.invocationId as string);
    expect(dead).toMatchObject({ status: "failed", errorCode: "FN_004", attempts: 1 });
    expect(dead.errorMessage).toContain("exited with code 7");
  });

  it("async - a body still open at the function's timeout is FN_002", async () => {
    const res = await plane.invokeAsync("hangs", {});
    expect(res.status, res.body).toBe(202);
    const dead = await deadLetter(res.json.invocationId as string);
    expect(dead).toMatchObject({ status: "failed", errorCode: "FN_002", attempts: 1 });
  });
});
