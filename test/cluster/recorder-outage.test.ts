import { randomBytes } from "node:crypto";
import { type DatabaseHandle, type NewInvocation, openDatabase, Recorder } from "@kumo/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../invocation/plane.ts";
import { PrivatePostgres } from "./private-postgres.ts";

let postgres: PrivatePostgres;
let database: DatabaseHandle;

beforeAll(async () => {
  postgres = await PrivatePostgres.start();
  database = await openDatabase({ url: postgres.url, schema: "recorder_outage", maxConnections: 3 });
}, 60_000);

afterAll(async () => {
  await database?.close().catch(() => {});
  await postgres?.stop();
});

function finished(tenantId: string, n: number): NewInvocation {
  return {
    id: `inv_${tenantId}_${n}`,
    tenant_id: tenantId,
    function_id: "fn_outage",
    version_id: "ver_outage",
    version: 1,
    trigger: "async",
    request_bytes: 0,
    started_at: new Date(),
    finished_at: new Date(),
    status: "succeeded",
    attempts: 1,
    record_seq: 10,
  };
}

describe("invocation records - a PostgreSQL restart", () => {
  it("records - what was recorded while PostgreSQL was down is written once it is back, with no new record to carry it", async () => {
    const errors: unknown[] = [];
    const recorder = new Recorder({
      db: database.db,
      flushMs: 20,
      rollups: false,
      onError: (error) => errors.push(error),
    });
    const tenantId = `t${randomBytes(4).toString("hex")}`;
    await postgres.stopServer();
    for (let n = 0; n < 50; n++) recorder.record(finished(tenantId, n));
    // Several flushes fail while the server is down (the old recorder dropped a batch after its
    // second failure).
    await recorder.flush();
    await new Promise((r) => setTimeout(r, 500));
    await recorder.flush();
    expect(errors.length).toBeGreaterThanOrEqual(2);
    await postgres.startServer();
    // Nothing else is recorded: the retained batch goes in by itself.
    const count = async () =>
      Number(
        (
          await database.db
            .selectFrom("invocations")
            .select((eb) => eb.fn.countAll().as("n"))
            .where("tenant_id", "=", tenantId)
            .executeTakeFirstOrThrow()
        ).n,
      );
    await waitFor("the records kept through the outage", async () => (await count()) === 50, 10_000);
    await recorder.drain();
  }, 60_000);

  it("records - the records kept through an outage are bounded; the oldest go first and the loss is reported", async () => {
    const errors: unknown[] = [];
    const recorder = new Recorder({
      db: database.db,
      flushMs: 20,
      rollups: false,
      maxRetained: 10,
      onError: (error) => errors.push(error),
    });
    const tenantId = `t${randomBytes(4).toString("hex")}`;
    await postgres.stopServer();
    for (let n = 0; n < 25; n++) recorder.record(finished(tenantId, n));
    await recorder.flush();
    await postgres.startServer();
    await waitFor(
      "the newest records",
      async () =>
        (await database.db.selectFrom("invocations").select("id").where("tenant_id", "=", tenantId).execute())
          .length === 10,
      10_000,
    );
    const ids = (
      await database.db.selectFrom("invocations").select("id").where("tenant_id", "=", tenantId).execute()
    ).map((r) => r.id);
    expect(ids.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `inv_${tenantId}_${i + 15}`).sort());
    expect(errors.map(String).some((e) => e.includes("15 buffered record(s) dropped"))).toBe(true);
    await recorder.drain();
  }, 60_000);
});
