import { newId } from "@kumo/core";
import { type Kysely, sql } from "kysely";
import { decodeIdCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, RouteMethod, RouteRow } from "./schema.ts";

export interface NewRoute {
  method: RouteMethod;
  path: string;
  patternKey: string;
  host: string | null;
  target: string;
  createdBy: string | null;
}

/** Tenant-defined HTTP routes: (host, method, path pattern) -> function. */
export class RoutesRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  /**
   * Serializes route changes of this tenant until the transaction ends, so the overlap check and the
   * insert cannot interleave with another gateway's.
   */
  async lock(): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtext(${`kumo.routes.${this.#tenantId}`}))`.execute(this.#db);
  }

  /** Routes on the same host and pattern whose method overlaps (equal, or either is ANY). */
  async overlapping(host: string | null, patternKey: string, method: RouteMethod): Promise<RouteRow[]> {
    let query = this.#db
      .selectFrom("routes")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("pattern_key", "=", patternKey)
      .where((eb) => eb.or([eb("method", "=", method), eb("method", "=", "ANY"), eb.val(method === "ANY")]));
    query = host === null ? query.where("host", "is", null) : query.where("host", "=", host);
    return query.execute();
  }

  async create(input: NewRoute): Promise<RouteRow> {
    return this.#db
      .insertInto("routes")
      .values({
        id: newId("rte"),
        tenant_id: this.#tenantId,
        method: input.method,
        path: input.path,
        pattern_key: input.patternKey,
        host: input.host,
        target: input.target,
        created_by: input.createdBy,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async get(id: string): Promise<RouteRow | undefined> {
    return this.#db
      .selectFrom("routes")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  /** Every route of the tenant, for compiling its matcher. */
  async all(): Promise<RouteRow[]> {
    return this.#db.selectFrom("routes").selectAll().where("tenant_id", "=", this.#tenantId).execute();
  }

  async list(page: PageOptions): Promise<Page<RouteRow>> {
    let query = this.#db
      .selectFrom("routes")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .orderBy("id")
      .limit(page.limit + 1);
    if (page.cursor) {
      const id = decodeIdCursor(page.cursor, "rte");
      query = query.where("id", ">", id);
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.id],
      (r) => r,
    );
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("routes")
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Drops the routes of a host (its domain was released). */
  async deleteForHost(host: string): Promise<number> {
    const result = await this.#db
      .deleteFrom("routes")
      .where("tenant_id", "=", this.#tenantId)
      .where("host", "=", host)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
