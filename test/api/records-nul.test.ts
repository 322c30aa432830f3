import { Recorder, type RejectedRecord } from "@kumo/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";

/**
 * Issue 10.3: PostgreSQL refuses U+0000 in text and jsonb. A NUL in one tenant's log line or error
 * message made the shared batch of invocation records fail, and every tenant's records in it were
 * lost. Each record is storable on its own now, and one refused row never costs the others theirs.
 */
describe("invocation records - a NUL byte in one tenant's output", () => {
  let t: TestGateway;
  let a: { name: string; key: string };
  let b: { name: string; key: string };

  const deploy = async (tenant: { key: string }, name: string, source: string) => {
    await t.call("POST", "/v1/functions", { key: tenant.key, body: { name, runtime: "edge" } });
    const dep = await t.call("POST", `/v1/functions/${name}/deployments`, {
      key: tenant.key,
      body: { files: { "index.js": source } },
    });
    expect(dep.json?.status, dep.body).toBe("succeeded");
  };

  beforeAll(async () => {
    t = await startTestGateway({ edge: true, env: { KUMO_RECORD_FLUSH: "200ms" } });
    a = await t.tenant();
    b = await t.tenant();
    await deploy(
      a,
      "steady",
      `export default { async fetch() { await new Promise((r) => setTimeout(r, 20)); console.log("steady line"); return new Response("ok"); } }`,
    );
    await deploy(
      b,
      "nul",
      `export default { fetch(req) {
        console.log("a\\u0000b");
        if (new URL(req.url).pathname === "/throw") throw new Error("bad\\u0000error");
        return new Response("nul", { headers: { "x-nul": "ok" } });
      } }`,
    );
  });

  afterAll(async () => {
    await t?.close();
  });

  it("records - other tenants' records and logs in the same batch are all kept", async () => {
    const calls = [
      ...Array.from({ length: 10 }, () => t.call("GET", `/fn/${a.name}/steady/`)),
      t.call("GET", `/fn/${b.name}/nul/`),
      t.call("GET", `/fn/${b.name}/nul/throw`),
    ];
    const answers = await Promise.all(calls);
    expect(answers.slice(0, 10).map((r) => r.status)).toEqual(Array(10).fill(200));
    await t.gateway.flushRecords();

    const steady = await t.call("GET", "/v1/functions/steady/invocations?limit=50", { key: a.key });
    expect(steady.json.items).toHaveLength(10);
    const logs = await t.call("GET", "/v1/functions/steady/logs?limit=100", { key: a.key });
    expect(logs.json.items.filter((l: { message: string }) => l.message === "steady line")).toHaveLength(10);

    // The tenant whose output held the NUL keeps its records too, with U+FFFD in its place.
    const nul = await t.call("GET", "/v1/functions/nul/invocations?limit=50", { key: b.key });
    expect(nul.json.items).toHaveLength(2);
    const failed = nul.json.items.find((i: { status: string }) => i.status !== "succeeded");
    expect(failed.errorMessage).toContain("bad\uFFFDerror");
    const nulLogs = await t.call("GET", "/v1/functions/nul/logs?limit=100", { key: b.key });
    expect(nulLogs.json.items.map((l: { message: string }) => l.message)).toContain("a\uFFFDb");
  });

  it("records - a row the database refuses is set aside alone and reported", async () => {
    const rejected: RejectedRecord[] = [];
    const recorder = new Recorder({
      db: t.gateway.database.db,
      flushMs: 10_000,
      onError: (error) => {
        throw error;
      },
      onRejected: (r) => rejected.push(r),
    });
    const record = (id: string, statusCode: number) => ({
      id,
      tenant_id: "tenant-x",
      function_id: "fn-x",
      trigger: "http",
      status: "succeeded" as const,
      status_code: statusCode,
      started_at: new Date(),
    });
    // status_code is an integer column: 2^40 is out of its range (SQLSTATE 22003).
    for (const [i, code] of [200, 2 ** 40, 201, 202].entries()) recorder.record(record(`poison-${i}`, code));
    await recorder.flush();
    expect(rejected.map((r) => r.id)).toEqual(["poison-1"]);
    const kept = await t.gateway.database.db
      .selectFrom("invocations")
      .select("id")
      .where("id", "like", "poison-%")
      .orderBy("id")
      .execute();
    expect(kept.map((r) => r.id)).toEqual(["poison-0", "poison-2", "poison-3"]);
  });
});
