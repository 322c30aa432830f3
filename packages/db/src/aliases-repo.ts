import type { Kysely } from "kysely";
import type { AliasRow, Database, RoutingEntry } from "./schema.ts";

export class AliasesRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async get(functionId: string, name: string): Promise<AliasRow | undefined> {
    return this.#db
      .selectFrom("aliases")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("name", "=", name)
      .executeTakeFirst();
  }

  async list(functionId: string): Promise<AliasRow[]> {
    return this.#db
      .selectFrom("aliases")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .orderBy("name")
      .execute();
  }

  /** The main version of each function's "live" alias (the one with the most weight). */
  async liveVersions(functionIds: readonly string[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    if (functionIds.length === 0) return result;
    const rows = await this.#db
      .selectFrom("aliases")
      .select(["function_id", "routing"])
      .where("tenant_id", "=", this.#tenantId)
      .where("name", "=", "live")
      .where("function_id", "in", [...functionIds])
      .execute();
    for (const row of rows) {
      const main = [...row.routing].sort((a, b) => b.weight - a.weight)[0];
      if (main) result.set(row.function_id, main.version);
    }
    return result;
  }

  async put(
    functionId: string,
    name: string,
    routing: RoutingEntry[],
    updatedBy: string | null,
  ): Promise<AliasRow> {
    const values = {
      tenant_id: this.#tenantId,
      function_id: functionId,
      name,
      routing: JSON.stringify(routing),
      updated_at: new Date(),
      updated_by: updatedBy,
    };
    return this.#db
      .insertInto("aliases")
      .values(values)
      .onConflict((oc) =>
        oc
          .columns(["function_id", "name"])
          .doUpdateSet({ routing: values.routing, updated_at: values.updated_at, updated_by: updatedBy }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async delete(functionId: string, name: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("aliases")
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("name", "=", name)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
