import { randomBytes } from "node:crypto";
import type { DatabaseIntrospector, Kysely } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { migrateToLatest } from "./migrate.ts";
import { type DatabaseHandle, openDatabase } from "./open-database.ts";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * The database, except that its first `failures` table listings (the introspection kysely's
 * migrator runs to find its own tables) fail with the error PostgreSQL raises when another session
 * drops a schema while the listing runs.
 */
function dropDuringListing(db: Kysely<unknown>, code: string, failures: number) {
  const counter = { listings: 0 };
  const introspection: DatabaseIntrospector = {
    getSchemas: () => db.introspection.getSchemas(),
    getMetadata: (options) => db.introspection.getMetadata(options),
    getTables: async (options) => {
      counter.listings++;
      if (counter.listings <= failures) {
        throw Object.assign(new Error('relation "t_gone.some_table" does not exist'), { code });
      }
      return db.introspection.getTables(options);
    },
  };
  // Kysely keeps its state in private fields: every other member runs on the real instance.
  const wrapped = new Proxy(db, {
    get(target, property) {
      if (property === "introspection") return introspection;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: wrapped, counter };
}

describe("migrateToLatest on PostgreSQL", () => {
  const handles: { handle: DatabaseHandle; schema: string }[] = [];
  /** A database handle on a schema of its own, not yet migrated. */
  async function freshSchema(): Promise<Kysely<unknown>> {
    const schema = `mg_${randomBytes(4).toString("hex")}`;
    const handle = await openDatabase({ url, schema, maxConnections: 2, migrate: false });
    handles.push({ handle, schema });
    return handle.db as Kysely<unknown>;
  }
  afterAll(async () => {
    for (const { handle, schema } of handles) {
      await handle.db.schema.dropSchema(schema).ifExists().cascade().execute();
      await handle.close();
    }
  });

  it.each(["42P01", "3F000"])(
    "a schema another session drops while the migrator lists tables (%s) is retried, and every migration applies",
    async (code) => {
      const db = await freshSchema();
      const failing = dropDuringListing(db, code, 2);
      const { applied } = await migrateToLatest(failing.db, handles.at(-1)?.schema);
      expect(failing.counter.listings).toBeGreaterThan(2);
      expect(applied).toContain("0001-initial");
      expect(applied).toContain("0016-invocation-usage");
    },
  );

  it("any other setup error is thrown at once, before any migration ran", async () => {
    const db = await freshSchema();
    const failing = dropDuringListing(db, "42501", 1);
    await expect(migrateToLatest(failing.db, handles.at(-1)?.schema)).rejects.toThrow(/does not exist/);
    expect(failing.counter.listings).toBe(1);
    const { applied } = await migrateToLatest(db, handles.at(-1)?.schema);
    expect(applied).toHaveLength(16);
  });
});
