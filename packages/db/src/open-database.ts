import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { migrateToLatest } from "./migrate.ts";
import { PGliteDialect } from "./pglite-dialect.ts";
import type { Database } from "./schema.ts";

export interface OpenDatabaseOptions {
  /** postgres:// URL; when absent, an embedded PGlite database under dataDir is used. */
  url?: string | undefined;
  dataDir?: string | undefined;
  /** PostgreSQL schema to use (tests get one each); created if missing. Default "public". */
  schema?: string | undefined;
  /** Pool size for PostgreSQL. */
  maxConnections?: number | undefined;
  /** Run migrations on open (default true). */
  migrate?: boolean | undefined;
}

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: "postgres" | "pglite";
  /** Where the data lives, for humans: the URL without password, or the PGlite directory. */
  location: string;
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const schema = options.schema ?? "public";
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid database schema name "${schema}"`);
  const handle = options.url
    ? await openPostgres(options.url, schema, options.maxConnections ?? 10)
    : await openPGlite(options.dataDir);
  if (options.migrate !== false) {
    await migrateToLatest(handle.db as Kysely<unknown>, schema);
  }
  return handle;
}

async function openPostgres(url: string, schema: string, max: number): Promise<DatabaseHandle> {
  if (schema !== "public") {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`create schema if not exists "${schema}"`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max,
    ...(schema === "public" ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const parsed = new URL(url);
  parsed.password = "";
  return { db, kind: "postgres", location: parsed.toString(), close: () => db.destroy() };
}

async function openPGlite(dataDir: string | undefined): Promise<DatabaseHandle> {
  if (!dataDir) throw new Error("either DATABASE_URL or a data directory is required");
  const dir = join(dataDir, "pgdata");
  mkdirSync(dir, { recursive: true });
  const { PGlite } = await import("@electric-sql/pglite");
  // pg_trgm indexes log search (migration 0012); PGlite ships it as a contrib extension.
  const { pg_trgm } = await import("@electric-sql/pglite/contrib/pg_trgm");
  const pglite = await PGlite.create(dir, { extensions: { pg_trgm } });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: "pglite",
    location: dir,
    close: async () => {
      await db.destroy();
      await pglite.close();
    },
  };
}
