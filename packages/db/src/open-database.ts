import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { MessagePort } from "node:worker_threads";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { migrateToLatest } from "./migrate.ts";
import { PGlitePort, PGlitePortDialect, shareClientPort, startPGliteThread } from "./pglite-port-dialect.ts";
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
  /**
   * For embedded PGlite: a new client port for a service running in another worker thread
   * (transfer it and open it there with `openSharedDatabase`). Undefined for PostgreSQL, which
   * other threads reach by its URL.
   */
  shareThreadPort?: () => MessagePort;
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
  // Nor must a checked-out one: pg emits "error" on a client whose server went away (a PostgreSQL
  // restart cuts every session), and the pool listens only while the client is idle. The query in
  // flight fails with the error anyway, and the pool drops the dead client when it is released.
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const parsed = new URL(url);
  parsed.password = "";
  return { db, kind: "postgres", location: parsed.toString(), close: () => db.destroy() };
}

/**
 * Embedded PGlite runs in a worker thread of its own (pglite-thread.mjs): its WASM executes queries
 * synchronously, and on the caller's event loop it took a third of the gateway's busy time.
 */
async function openPGlite(dataDir: string | undefined): Promise<DatabaseHandle> {
  if (!dataDir) throw new Error("either DATABASE_URL or a data directory is required");
  const dir = join(dataDir, "pgdata");
  mkdirSync(dir, { recursive: true });
  const { worker, client } = await startPGliteThread(dir);
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  const db = new Kysely<Database>({ dialect: new PGlitePortDialect(client) });
  return {
    db,
    kind: "pglite",
    location: dir,
    shareThreadPort: () => shareClientPort(worker),
    close: async () => {
      await db.destroy();
      await client.send({ op: "close" }).catch(() => {});
      await exited;
    },
  };
}

/** The embedded database from another worker thread, through a port from `shareThreadPort`. */
export function openSharedDatabase(port: MessagePort, location: string): DatabaseHandle {
  const client = new PGlitePort(port);
  const db = new Kysely<Database>({ dialect: new PGlitePortDialect(client) });
  return {
    db,
    kind: "pglite",
    location,
    close: async () => {
      await db.destroy();
      client.fail(new Error("closed"));
    },
  };
}
