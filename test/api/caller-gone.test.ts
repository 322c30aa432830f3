import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../invocation/plane.ts";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";

/** Answers after 1.5 s: long enough for a client to give up first. */
const SLOW = `export default { async fetch() {
  await new Promise((r) => setTimeout(r, 1500));
  return new Response("late");
} };`;

let gw: TestGateway;
let tenant: { name: string; id: string; key: string };

beforeAll(async () => {
  gw = await startTestGateway({ edge: true, listen: true });
  tenant = await gw.tenant();
  const created = await gw.call("POST", "/v1/functions", {
    key: tenant.key,
    body: { name: "slow", runtime: "edge" },
  });
  expect(created.status, created.body).toBe(201);
  const dep = await gw.call("POST", "/v1/functions/slow/deployments", {
    key: tenant.key,
    body: { files: { "index.ts": SLOW } },
  });
  expect(dep.json?.status, dep.body).toBe("succeeded");
}, 60_000);

afterAll(async () => {
  await gw?.close();
});

describe("invoke - a caller that goes away", () => {
  it("caller gone - a client that closes its connection cancels the sync invocation, recorded as such", async () => {
    const { port } = new URL(gw.gateway.url);
    const socket = connect(Number(port), "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    const body = JSON.stringify({ hello: 1 });
    socket.write(
      `POST /fn/${tenant.name}/slow HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    const record = await waitFor("the invocation's record", async () => {
      await gw.gateway.flushRecords();
      return gw.gateway.database.db
        .selectFrom("invocations")
        .select(["status", "error_code", "duration_ms"])
        .where("tenant_id", "=", tenant.id)
        .executeTakeFirst();
    });
    // Without the cancellation the record says succeeded after 1.5 s.
    expect(record.status).toBe("failed");
    expect(record.duration_ms ?? 0).toBeLessThan(1200);
  });
});
