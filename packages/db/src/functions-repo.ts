import { newId, RUNTIME_VERSIONS } from "@kumo/core";
import { type Kysely, sql } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, FunctionRow } from "./schema.ts";

export type FunctionWithLive = FunctionRow & { live_version: number | null };

export class FunctionsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async create(input: { name: string; runtime: string; config: unknown }): Promise<FunctionRow> {
    return this.#db
      .insertInto("functions")
      .values({
        id: newId("fn"),
        tenant_id: this.#tenantId,
        name: input.name,
        runtime: input.runtime,
        config: JSON.stringify(input.config),
        updated_at: new Date(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async byName(name: string): Promise<FunctionRow | undefined> {
    return this.#db
      .selectFrom("functions")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("name", "=", name)
      .executeTakeFirst();
  }

  /** The tenant's functions among these names (unknown names are simply absent). */
  async byNames(names: readonly string[]): Promise<FunctionRow[]> {
    if (names.length === 0) return [];
    return this.#db
      .selectFrom("functions")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("name", "in", [...names])
      .execute();
  }

  async byId(id: string): Promise<FunctionRow | undefined> {
    return this.#db
      .selectFrom("functions")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  /**
   * One page of functions with the main version of each one's "live" alias, in a single round trip
   * (the list is the dashboard's and the CLI's most frequent read). `q` keeps the functions whose
   * name contains it (case-insensitive; `%` and `_` literal) or whose runtime (or its family) is it, so a console
   * searching 10,000 functions reads one page, not all of them.
   */
  async list(page: PageOptions & { q?: string | undefined }): Promise<Page<FunctionWithLive>> {
    let query = this.#db
      .selectFrom("functions")
      .selectAll("functions")
      .select((eb) =>
        eb
          .selectFrom("aliases")
          .select(
            sql<number>`(select (e->>'version')::int from jsonb_array_elements(aliases.routing) e order by (e->>'weight')::int desc limit 1)`.as(
              "v",
            ),
          )
          .whereRef("aliases.function_id", "=", "functions.id")
          .where("aliases.name", "=", "live")
          .as("live_version"),
      )
      .where("tenant_id", "=", this.#tenantId)
      .orderBy("name")
      .limit(page.limit + 1);
    if (page.cursor) {
      const [name] = decodeCursor(page.cursor, ["string"]);
      query = query.where("name", ">", String(name));
    }
    const q = page.q?.trim().toLowerCase();
    if (q) {
      const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      // A family finds its pinned versions too ("node" finds node22 functions).
      const runtimes = [q, ...((RUNTIME_VERSIONS as Record<string, readonly string[]>)[q] ?? [])];
      query = query.where((eb) => eb.or([eb("name", "like", pattern), eb("runtime", "in", runtimes)]));
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.name],
      (r) => r,
    );
  }

  async updateConfig(id: string, runtime: string, config: unknown): Promise<FunctionRow | undefined> {
    return this.#db
      .updateTable("functions")
      .set({ runtime, config: JSON.stringify(config), updated_at: new Date() })
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("functions")
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
