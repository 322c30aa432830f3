import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type DatabaseHandle, openDatabase, openSharedDatabase } from "./open-database.ts";

// Embedded PGlite in its own thread (pglite-thread.mjs), reached through ports: a real PGlite, no fakes.
let dir: string;
let database: DatabaseHandle;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kumo-pglite-thread-"));
  database = await openDatabase({ dataDir: dir });
  await sql`create table t (id int primary key, v text)`.execute(database.db);
}, 120_000);

afterAll(async () => {
  await database?.close();
  await rm(dir, { recursive: true, force: true });
});

test("pglite thread - migrations ran and concurrent statements all answer, in order of arrival", async () => {
  const migrations = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(
    database.db,
  );
  expect(migrations.rows[0]?.n).toBeGreaterThan(10);
  const answers = await Promise.all(
    Array.from({ length: 100 }, (_, i) => sql<{ i: number }>`select ${i}::int as i`.execute(database.db)),
  );
  expect(answers.map((a) => a.rows[0]?.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
});

test("pglite thread - a transaction holds the database: other statements wait, a rollback undoes it", async () => {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  const order: string[] = [];
  const tx = database.db.transaction().execute(async (trx) => {
    await sql`insert into t values (1, 'in tx')`.execute(trx);
    order.push("tx insert");
    await held;
    await sql`update t set v = 'updated in tx' where id = 1`.execute(trx);
    order.push("tx update");
  });
  await new Promise((r) => setTimeout(r, 50));
  // Sent while the transaction is open: it runs after the commit and sees the committed row.
  const outside = sql<{ v: string }>`select v from t where id = 1`.execute(database.db).then((r) => {
    order.push("outside read");
    return r.rows[0]?.v;
  });
  await new Promise((r) => setTimeout(r, 50));
  release();
  await tx;
  expect(await outside).toBe("updated in tx");
  expect(order).toEqual(["tx insert", "tx update", "outside read"]);

  await expect(
    database.db.transaction().execute(async (trx) => {
      await sql`insert into t values (2, 'rolled back')`.execute(trx);
      throw new Error("boom");
    }),
  ).rejects.toThrow("boom");
  const rows = await sql<{ id: number }>`select id from t order by id`.execute(database.db);
  expect(rows.rows.map((r) => r.id)).toEqual([1]);
});

test("pglite thread - PostgreSQL errors keep their SQLSTATE and constraint", async () => {
  const error = await sql`insert into t values (1, 'duplicate')`
    .execute(database.db)
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  expect(error).toMatchObject({ code: "23505", constraint: "t_pkey" });
  // The thread serves on after an error.
  expect((await sql<{ n: number }>`select 1 as n`.execute(database.db)).rows[0]?.n).toBe(1);
});

test("pglite thread - a shared port (what another thread gets) reads and writes the same database", async () => {
  const port = database.shareThreadPort?.();
  expect(port).toBeDefined();
  // Used from this thread here; the all-in-one launcher hands one to its autoscaler thread.
  const shared = openSharedDatabase(port as NonNullable<typeof port>, database.location);
  await sql`insert into t values (3, 'from the shared port')`.execute(shared.db);
  const seen = await sql<{ v: string }>`select v from t where id = 3`.execute(database.db);
  expect(seen.rows[0]?.v).toBe("from the shared port");
  await shared.close();
  // Closing a shared client leaves the database open for the others.
  expect((await sql<{ n: number }>`select 2 as n`.execute(database.db)).rows[0]?.n).toBe(2);
});
