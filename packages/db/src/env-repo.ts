import type { Kysely } from "kysely";
import type { Database } from "./schema.ts";

export interface EnvVar {
  key: string;
  value: string;
  updatedAt: Date;
}

export class EnvRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async list(functionId: string): Promise<EnvVar[]> {
    const rows = await this.#db
      .selectFrom("env_vars")
      .select(["key", "value", "updated_at"])
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .orderBy("key")
      .execute();
    return rows.map((r) => ({ key: r.key, value: r.value, updatedAt: r.updated_at }));
  }

  async get(functionId: string, key: string): Promise<EnvVar | undefined> {
    const row = await this.#db
      .selectFrom("env_vars")
      .select(["key", "value", "updated_at"])
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("key", "=", key)
      .executeTakeFirst();
    return row && { key: row.key, value: row.value, updatedAt: row.updated_at };
  }

  async set(functionId: string, key: string, value: string): Promise<void> {
    const now = new Date();
    await this.#db
      .insertInto("env_vars")
      .values({ tenant_id: this.#tenantId, function_id: functionId, key, value, updated_at: now })
      .onConflict((oc) => oc.columns(["function_id", "key"]).doUpdateSet({ value, updated_at: now }))
      .execute();
  }

  async delete(functionId: string, key: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("env_vars")
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("key", "=", key)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
