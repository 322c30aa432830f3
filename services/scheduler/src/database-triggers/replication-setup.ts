import type { DatabaseTriggerSettings } from "@kumo/core";
import pg from "pg";

/** Something the tenant's server or role lacks: the message says what, for the trigger's state. */
export class ReplicationProblem extends Error {
  override readonly name = "ReplicationProblem";
}

/** A slot on the server, as `ensureSlot` found or made it. */
export interface SlotInfo {
  /** Where the slot resumes (null: nothing confirmed yet). */
  confirmedLsn: string | null;
  created: boolean;
}

interface TableInfo {
  relkind: string;
  relreplident: string;
  owned: boolean;
  columns: { name: string; num: number }[] | null;
  key_columns: string[] | null;
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The plain (non-replication) connection a database trigger uses to check the tenant's server and
 * to make, change and drop its publication and slot. Every check names what is missing, because
 * its message is what the tenant reads in the trigger's state.
 */
export class ReplicationSetup {
  readonly #client: pg.Client;
  readonly #secret: string;

  private constructor(client: pg.Client, secret: string) {
    this.#client = client;
    this.#secret = secret;
  }

  /** Connects with the connection string of the tenant secret `secret` (named in errors). */
  static async connect(connection: string, secret: string): Promise<ReplicationSetup> {
    const client = new pg.Client({
      connectionString: connection,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      application_name: "kumo-trigger-setup",
    });
    // A server that goes away between queries emits on the client; the query at hand fails anyway.
    client.on("error", () => {});
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw new ReplicationProblem(
        `cannot connect to the database of secret ${secret}: ${errorMessage(error)}`,
      );
    }
    return new ReplicationSetup(client, secret);
  }

  /**
   * What streaming the trigger's changes needs: wal_level=logical, a role with REPLICATION (or a
   * superuser) that owns every table (CREATE PUBLICATION requires it), tables that exist, and —
   * when updates or deletes are published — a replica identity PostgreSQL can send, because
   * otherwise PostgreSQL refuses the tenant's own UPDATE and DELETE statements on those tables.
   * Returns each table's key columns, which every column list includes.
   */
  async check(settings: DatabaseTriggerSettings): Promise<Map<string, string[]>> {
    const level = await this.#client.query<{ wal_level: string }>("show wal_level");
    const walLevel = level.rows[0]?.wal_level ?? "unknown";
    if (walLevel !== "logical") {
      throw new ReplicationProblem(
        `wal_level is ${walLevel} on the database of secret ${this.#secret}; database triggers need wal_level=logical (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)`,
      );
    }
    const role = await this.#client.query<{ name: string; rolsuper: boolean; rolreplication: boolean }>(
      "select current_user as name, rolsuper, rolreplication from pg_roles where rolname = current_user",
    );
    const me = role.rows[0];
    if (!me || (!me.rolsuper && !me.rolreplication)) {
      throw new ReplicationProblem(
        `role ${me?.name ?? "(unknown)"} lacks the REPLICATION privilege needed for a replication slot (ALTER ROLE ${me?.name ?? "<role>"} REPLICATION)`,
      );
    }
    const create = await this.#client.query<{ allowed: boolean; db: string }>(
      "select has_database_privilege(current_database(), 'CREATE') as allowed, current_database() as db",
    );
    if (!me.rolsuper && !create.rows[0]?.allowed) {
      const db = create.rows[0]?.db ?? "<database>";
      throw new ReplicationProblem(
        `role ${me.name} lacks the CREATE privilege on database ${db} needed for CREATE PUBLICATION (GRANT CREATE ON DATABASE ${db} TO ${me.name})`,
      );
    }
    const keys = new Map<string, string[]>();
    const changesRows = settings.events.some((e) => e === "update" || e === "delete");
    for (const table of settings.tables) {
      const [schema = "public", name = ""] = table.split(".");
      const info = await this.#table(schema, name);
      if (!info) throw new ReplicationProblem(`table ${table} does not exist`);
      if (info.relkind !== "r" && info.relkind !== "p") {
        throw new ReplicationProblem(`${table} is not a table`);
      }
      if (!me.rolsuper && !info.owned) {
        throw new ReplicationProblem(
          `role ${me.name} does not own table ${table}; CREATE PUBLICATION needs the table's owner (or a superuser)`,
        );
      }
      const columns = (info.columns ?? []).map((c) => c.name);
      const unknown = (settings.columns ?? []).filter((c) => !columns.includes(c));
      if (unknown.length > 0) {
        throw new ReplicationProblem(`table ${table} has no column ${unknown.join(", ")}`);
      }
      const identity = info.relreplident;
      const key = info.key_columns ?? [];
      if (changesRows && (identity === "n" || (identity !== "f" && key.length === 0))) {
        throw new ReplicationProblem(
          `table ${table} has no primary key or replica identity, so PostgreSQL would refuse its UPDATE and DELETE once published: add a primary key, ALTER TABLE ${table} REPLICA IDENTITY FULL, or set events to ["insert"]`,
        );
      }
      if (changesRows && identity === "f" && settings.columns && settings.columns.length < columns.length) {
        throw new ReplicationProblem(
          `table ${table} has REPLICA IDENTITY FULL, so a column list must name every column while updates or deletes are published`,
        );
      }
      keys.set(table, identity === "f" ? [] : key);
    }
    return keys;
  }

  /**
   * Makes the publication exactly what the settings say (dropped and created again in one
   * transaction, so a streaming slot never sees it missing). With a row filter and updates or
   * deletes published, PostgreSQL requires the filter's columns to be in the replica identity, or
   * it refuses the tenant's UPDATE and DELETE: checked before committing.
   */
  async ensurePublication(
    publication: string,
    settings: DatabaseTriggerSettings,
    keys: Map<string, string[]>,
  ): Promise<void> {
    const c = this.#client;
    const tables = settings.tables.map((table) => {
      const [schema = "public", name = ""] = table.split(".");
      const qualified = `${c.escapeIdentifier(schema)}.${c.escapeIdentifier(name)}`;
      const columns = settings.columns
        ? [...new Set([...(keys.get(table) ?? []), ...settings.columns])]
        : undefined;
      const list = columns ? ` (${columns.map((col) => c.escapeIdentifier(col)).join(", ")})` : "";
      const where = settings.filter ? ` WHERE (${settings.filter})` : "";
      return `TABLE ${qualified}${list}${where}`;
    });
    const name = c.escapeIdentifier(publication);
    await c.query("begin");
    try {
      await c.query(`DROP PUBLICATION IF EXISTS ${name}`);
      await c.query(
        `CREATE PUBLICATION ${name} FOR ${tables.join(", ")} WITH (publish = '${settings.events.join(", ")}')`,
      );
      if (settings.filter && settings.events.some((e) => e === "update" || e === "delete")) {
        await this.#checkFilterColumns(publication, keys);
      }
      await c.query("commit");
    } catch (error) {
      await c.query("rollback").catch(() => {});
      if (error instanceof ReplicationProblem) throw error;
      throw new ReplicationProblem(`cannot create publication ${publication}: ${errorMessage(error)}`);
    }
  }

  /** The slot, created (pgoutput) when absent. */
  async ensureSlot(slot: string): Promise<SlotInfo> {
    const found = await this.#client.query<{ confirmed_flush_lsn: string | null }>(
      "select confirmed_flush_lsn::text from pg_replication_slots where slot_name = $1",
      [slot],
    );
    const row = found.rows[0];
    if (row) return { confirmedLsn: row.confirmed_flush_lsn, created: false };
    try {
      const made = await this.#client.query<{ lsn: string }>(
        "select lsn::text from pg_create_logical_replication_slot($1, 'pgoutput')",
        [slot],
      );
      return { confirmedLsn: made.rows[0]?.lsn ?? null, created: true };
    } catch (error) {
      throw new ReplicationProblem(`cannot create replication slot ${slot}: ${errorMessage(error)}`);
    }
  }

  /**
   * Drops the slot and the publication, so the server keeps no WAL for a removed trigger. A
   * walsender still holding the slot (a scheduler that lost the lead, a killed one whose
   * connection the server has not noticed) is terminated first.
   */
  async drop(slot: string, publication: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const found = await this.#client.query<{ active_pid: number | null }>(
        "select active_pid from pg_replication_slots where slot_name = $1",
        [slot],
      );
      const row = found.rows[0];
      if (!row) break;
      if (row.active_pid !== null) {
        await this.#client.query("select pg_terminate_backend($1)", [row.active_pid]);
        await new Promise((r) => setTimeout(r, 100));
      }
      try {
        await this.#client.query("select pg_drop_replication_slot($1)", [slot]);
        break;
      } catch (error) {
        // "is active for PID": the walsender has not exited yet.
        if (attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await this.#client.query(`DROP PUBLICATION IF EXISTS ${this.#client.escapeIdentifier(publication)}`);
  }

  async close(): Promise<void> {
    await this.#client.end().catch(() => {});
  }

  async #table(schema: string, name: string): Promise<TableInfo | undefined> {
    const result = await this.#client.query<TableInfo>(
      `select c.relkind, c.relreplident, pg_has_role(current_user, c.relowner, 'USAGE') as owned,
        (select json_agg(json_build_object('name', a.attname, 'num', a.attnum) order by a.attnum)
          from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
        (select array_agg(a.attname::text order by a.attnum) from pg_index i
          join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
          where i.indrelid = c.oid and ((c.relreplident = 'd' and i.indisprimary)
            or (c.relreplident = 'i' and i.indisreplident))) as key_columns
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2`,
      [schema, name],
    );
    return result.rows[0];
  }

  /** The filter's columns (read from the stored expression tree) must be key columns. */
  async #checkFilterColumns(publication: string, keys: Map<string, string[]>): Promise<void> {
    const result = await this.#client.query<{ schema: string; table: string; qual: string | null }>(
      `select n.nspname as schema, c.relname as table, pr.prqual::text as qual
      from pg_publication_rel pr join pg_publication p on p.oid = pr.prpubid
      join pg_class c on c.oid = pr.prrelid join pg_namespace n on n.oid = c.relnamespace
      where p.pubname = $1`,
      [publication],
    );
    for (const row of result.rows) {
      const table = `${row.schema}.${row.table}`;
      const key = keys.get(table);
      // REPLICA IDENTITY FULL (empty key list): every column is in the identity.
      if (!row.qual || !key || key.length === 0) continue;
      const info = await this.#table(row.schema, row.table);
      const used = new Set([...row.qual.matchAll(/:varattno (\d+)/g)].map((m) => Number(m[1])));
      const outside = (info?.columns ?? []).filter((c) => used.has(c.num) && !key.includes(c.name));
      if (outside.length > 0) {
        throw new ReplicationProblem(
          `filter uses ${outside.map((c) => c.name).join(", ")} of ${table}, outside its replica identity (${key.join(", ")}); PostgreSQL would then refuse UPDATE and DELETE on the table: filter on key columns, ALTER TABLE ${table} REPLICA IDENTITY FULL, or set events to ["insert"]`,
        );
      }
    }
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
