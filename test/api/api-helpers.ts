import type { Database } from "@kumo/db";
import { type Kysely, sql } from "kysely";
import { expect } from "vitest";
import type { CallResult, TestGateway } from "../support/test-gateway.ts";

/** Asserts the error envelope: status, code and a non-empty message; returns the error for more checks. */
export function expectError(
  res: CallResult,
  status: number,
  code: string,
): { code: string; message: string; details?: unknown } {
  expect(res.status, `${res.status} ${res.body}`).toBe(status);
  expect(res.json?.error?.code, res.body).toBe(code);
  expect(typeof res.json.error.message).toBe("string");
  expect(res.json.error.message.length).toBeGreaterThan(0);
  return res.json.error;
}

/** An edge function whose response body is `text`, so tests can tell versions apart. */
export function edgeSource(text: string): { files: Record<string, string> } {
  return {
    files: { "index.ts": `export default { fetch() { return new Response(${JSON.stringify(text)}) } }` },
  };
}

/** Creates an edge function and deploys the given bodies in order (one version each). */
export async function createEdgeFunction(
  t: TestGateway,
  key: string,
  name: string,
  bodies: string[] = [],
  config?: Record<string, unknown>,
): Promise<void> {
  const created = await t.call("POST", "/v1/functions", {
    key,
    body: { name, runtime: "edge", ...(config ? { config } : {}) },
  });
  expect(created.status, created.body).toBe(201);
  for (const text of bodies) {
    const dep = await t.call("POST", `/v1/functions/${name}/deployments`, { key, body: edgeSource(text) });
    expect(dep.status, dep.body).toBe(202);
    expect(dep.json.status).toBe("succeeded");
  }
}

/** Every page of a list route, following nextCursor; fails after `maxPages` to catch cursor loops. */
export async function allPages<T>(
  t: TestGateway,
  key: string,
  path: string,
  limit: number,
  maxPages = 50,
): Promise<{ pages: T[][]; items: T[] }> {
  const pages: T[][] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const url: string = `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await t.call("GET", url, { key });
    expect(res.status, `${url}: ${res.body}`).toBe(200);
    expect(Array.isArray(res.json.items)).toBe(true);
    pages.push(res.json.items);
    cursor = res.json.nextCursor;
    if (pages.length > maxPages)
      throw new Error(`${path}: more than ${maxPages} pages; the cursor does not advance`);
  } while (cursor !== null);
  return { pages, items: pages.flat() };
}

/** Names of the tables in the test schema. */
export async function tableNames(db: Kysely<Database>, schema: string): Promise<string[]> {
  const rows = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = ${schema} and table_type = 'BASE TABLE' order by table_name`.execute(db);
  return rows.rows.map((r) => r.table_name).filter((name) => !name.startsWith("kysely_"));
}

/**
 * Every row of every table as sorted JSON text, so "nothing changed" is one equality. `last_used_at`
 * is left out: it is written asynchronously by any authenticated request and is not data.
 */
const HOUSEKEEPING_TABLES = new Set(["function_metrics_watermark"]);

export async function snapshotTables(
  db: Kysely<Database>,
  schema: string,
  tenantId?: string,
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of await tableNames(db, schema)) {
    // Housekeeping's own bookkeeping (hour compaction's watermark moves when an hour ends), not data.
    if (HOUSEKEEPING_TABLES.has(table)) continue;
    const columns = await sql<{ column_name: string }>`
      select column_name from information_schema.columns where table_schema = ${schema} and table_name = ${table}`.execute(
      db,
    );
    const scoped = tenantId !== undefined && columns.rows.some((c) => c.column_name === "tenant_id");
    // A refused or failed management request's audit entry (outcome "denied"/"failed") is the one
    // write it is meant to make; everything else must stay as it was.
    const conditions = [
      ...(scoped ? [sql`t.tenant_id = ${tenantId}`] : []),
      ...(table === "audit_events" ? [sql`t.outcome = 'ok'`] : []),
    ];
    const where = conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``;
    const rows = await sql<{ r: string }>`
      select (to_jsonb(t) - 'last_used_at')::text as r from ${sql.table(table)} t ${where} order by 1`.execute(
      db,
    );
    out[table] = rows.rows.map((row) => row.r);
  }
  return out;
}
