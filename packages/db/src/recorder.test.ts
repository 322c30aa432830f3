import { randomBytes, randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseHandle, openDatabase } from "./open-database.ts";
import { Recorder } from "./recorder.ts";
import type { Database, NewInvocation } from "./schema.ts";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `rec_${randomBytes(4).toString("hex")}`;
let handle: DatabaseHandle;

beforeAll(async () => {
  handle = await openDatabase({ url, schema, maxConnections: 2 });
});

afterAll(async () => {
  await handle.db.schema.dropSchema(schema).ifExists().cascade().execute();
  await handle.close();
});

const record = (id: string): NewInvocation => ({
  id,
  tenant_id: "t_rec",
  function_id: "f_rec",
  trigger: "http",
  status: "succeeded",
  started_at: new Date(),
  finished_at: new Date(),
});

/** The handle's database, counting the statements that reach it. */
function counted(): { db: Kysely<Database>; statements: () => number } {
  let statements = 0;
  const db = handle.db.withPlugin({
    transformQuery: (args) => args.node,
    transformResult: async (args) => {
      statements++;
      return args.result;
    },
  });
  return { db, statements: () => statements };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("recorder", () => {
  it("recorder - flushes within minWriteIntervalMs of a write share one statement; a flush after a quiet spell starts at once", async () => {
    const { db, statements } = counted();
    const recorder = new Recorder({
      db,
      flushMs: 60_000,
      minWriteIntervalMs: 1000,
      rollups: false,
      onError: (error) => {
        throw error;
      },
    });
    const ids = [randomUUID(), randomUUID(), randomUUID()] as const;
    const first = performance.now();
    recorder.record(record(ids[0]));
    await recorder.flush();
    expect(performance.now() - first).toBeLessThan(500);
    expect(statements()).toBe(1);

    // Two flushes 30 ms apart, both inside the interval: one statement, no earlier than it allows.
    recorder.record(record(ids[1]));
    const second = recorder.flush();
    await sleep(30);
    recorder.record(record(ids[2]));
    await Promise.all([second, recorder.flush()]);
    expect(statements()).toBe(2);
    expect(performance.now() - first).toBeGreaterThanOrEqual(990);
    const rows = await handle.db.selectFrom("invocations").select("id").where("id", "in", ids).execute();
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());

    // After a quiet spell longer than the interval, a flush is written at once.
    await sleep(1050);
    const quiet = performance.now();
    recorder.record(record(randomUUID()));
    await recorder.flush();
    expect(performance.now() - quiet).toBeLessThan(500);
    expect(statements()).toBe(3);
  });

  it("recorder - without minWriteIntervalMs, a flush in a later turn is a statement of its own", async () => {
    const { db, statements } = counted();
    const recorder = new Recorder({
      db,
      flushMs: 60_000,
      rollups: false,
      onError: (error) => {
        throw error;
      },
    });
    recorder.record(record(randomUUID()));
    const one = recorder.flush();
    await sleep(30);
    recorder.record(record(randomUUID()));
    await Promise.all([one, recorder.flush()]);
    expect(statements()).toBe(2);
  });
});
