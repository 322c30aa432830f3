import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseHandle, openDatabase } from "./open-database.ts";
import { writeRecords } from "./record-writer.ts";
import type { NewInvocation } from "./schema.ts";

// The writer's statements on both engines Kumo runs on: PostgreSQL and embedded PGlite.
const engines = [
  { name: "postgres", url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test" },
  { name: "pglite", url: undefined },
];

describe.each(engines)("record writer on $name", ({ url }) => {
  let handle: DatabaseHandle;
  const schema = `rw_${randomBytes(4).toString("hex")}`;

  const dataDir = url ? undefined : mkdtempSync(join(tmpdir(), "kumo-rw-"));

  beforeAll(async () => {
    handle = await openDatabase(url ? { url, schema, maxConnections: 2 } : { dataDir });
  });
  afterAll(async () => {
    if (url) await handle.db.schema.dropSchema(schema).ifExists().cascade().execute();
    await handle.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const base = (id: string): NewInvocation => ({
    id,
    tenant_id: "t_rw",
    function_id: "f_rw",
    trigger: "async",
    status: "queued",
    started_at: new Date("2026-12-04T00:00:00Z"),
  });

  it("writes a batch whose records set different columns; left-out columns get their defaults", async () => {
    const queued = randomUUID();
    const done = randomUUID();
    await writeRecords(
      handle.db,
      [
        { ...base(queued), idempotency_key: "order-7", request_bytes: 12 },
        {
          ...base(done),
          status: "succeeded",
          attempts: 2,
          record_seq: 6,
          duration_ms: 1.25,
          result: Buffer.from('héllo \\ {"x"}'),
          result_headers: JSON.stringify({ "content-type": "text/plain", "x-q": 'a"b' }),
          finished_at: new Date("2026-12-04T00:00:01Z"),
        },
      ],
      [],
    );
    const rows = await sql<{
      id: string;
      attempts: number;
      record_seq: number;
      idempotency_key: string | null;
      duration_ms: number | null;
      result: string | null;
      result_headers: Record<string, string> | null;
    }>`select id, attempts, record_seq, idempotency_key, duration_ms,
          convert_from(result, 'UTF8') as result, result_headers
        from invocations where id in (${queued}, ${done})`.execute(handle.db);
    const byId = new Map(rows.rows.map((r) => [r.id, r]));
    expect(byId.get(queued)).toMatchObject({
      attempts: 0,
      record_seq: 0,
      idempotency_key: "order-7",
      duration_ms: null,
      result: null,
    });
    expect(byId.get(done)).toMatchObject({
      attempts: 2,
      record_seq: 6,
      duration_ms: 1.25,
      result: 'héllo \\ {"x"}',
      result_headers: { "content-type": "text/plain", "x-q": 'a"b' },
    });
  });

  it("a later write of an id wins and an earlier one arriving late is ignored", async () => {
    const id = randomUUID();
    await writeRecords(
      handle.db,
      [{ ...base(id), status: "running", record_seq: 1, idempotency_key: "k1" }],
      [],
    );
    await writeRecords(
      handle.db,
      [{ ...base(id), status: "succeeded", record_seq: 2, status_code: 201 }],
      [],
    );
    await writeRecords(handle.db, [{ ...base(id), status: "queued", record_seq: 0 }], []);
    const row = await sql<{ status: string; status_code: number; idempotency_key: string }>`
      select status, status_code, idempotency_key from invocations where id = ${id}`.execute(handle.db);
    // The idempotency key is kept from the first write that had one (coalesce), the rest is the newest.
    expect(row.rows[0]).toEqual({ status: "succeeded", status_code: 201, idempotency_key: "k1" });
  });

  it("writes log lines with quotes, backslashes, braces and fields as they were", async () => {
    const id = randomUUID();
    const message = 'he said "hi" \\ {a,b} NULL';
    await writeRecords(
      handle.db,
      [],
      [
        {
          tenant_id: "t_rw",
          function_id: "f_rw",
          invocation_id: id,
          version: 3,
          ts: new Date(),
          level: "warn",
          message,
          fields: JSON.stringify({ n: 1, s: 'q"\\' }),
        },
        {
          tenant_id: "t_rw",
          function_id: "f_rw",
          invocation_id: null,
          version: null,
          ts: new Date(),
          level: "info",
          message: "NULL",
          fields: null,
        },
      ],
    );
    const lines = await sql<{ message: string; fields: unknown; version: number | null }>`
      select message, fields, version from logs where invocation_id = ${id} or (invocation_id is null and function_id = 'f_rw')
      order by id`.execute(handle.db);
    expect(lines.rows).toEqual([
      { message, fields: { n: 1, s: 'q"\\' }, version: 3 },
      { message: "NULL", fields: null, version: null },
    ]);
  });

  it("a record the database refuses for its data is reported; the rest of its batch is written", async () => {
    const good = randomUUID();
    const bad = randomUUID();
    const worse = randomUUID();
    const rejected: (string | null)[] = [];
    await writeRecords(
      handle.db,
      [
        base(good),
        { ...base(bad), request_bytes: 2 ** 40 },
        { ...base(worse), started_at: new Date(Number.NaN) },
      ],
      [],
      { onRejected: (r) => rejected.push(r.id) },
    );
    expect(rejected).toEqual([bad, worse]);
    const ids = await sql<{
      id: string;
    }>`select id from invocations where id in (${good}, ${bad}, ${worse})`.execute(handle.db);
    expect(ids.rows.map((r) => r.id)).toEqual([good]);
  });
});
