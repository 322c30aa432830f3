import { type Kysely, sql } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database } from "./schema.ts";

export interface SecretMeta {
  name: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface SealedSecret {
  name: string;
  version: number;
  sealed: Uint8Array;
  keyId: string;
}

/**
 * Sealed (already encrypted) secret values. This repository never sees plaintext: sealing and opening
 * happen in the caller with the master key, so the database can only ever hold ciphertext.
 */
export class SecretsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  /** Stores a new version (rotation = new version); returns its number. */
  async put(name: string, sealed: Uint8Array, keyId: string): Promise<number> {
    const row = await this.#db
      .insertInto("secrets")
      .values({
        tenant_id: this.#tenantId,
        name,
        version: sql<number>`(select coalesce(max(version), 0) + 1 from secrets where tenant_id = ${this.#tenantId} and name = ${name})`,
        sealed,
        key_id: keyId,
      })
      .returning("version")
      .executeTakeFirstOrThrow();
    return row.version;
  }

  async meta(name: string): Promise<SecretMeta | undefined> {
    const row = await this.#summary().where("name", "=", name).executeTakeFirst();
    return row && toMeta(row);
  }

  async list(page: PageOptions): Promise<Page<SecretMeta>> {
    let query = this.#summary()
      .orderBy("name")
      .limit(page.limit + 1);
    if (page.cursor) {
      const [name] = decodeCursor(page.cursor, ["string"]);
      query = query.where("name", ">", String(name));
    }
    return toPage(await query.execute(), page.limit, (r) => [r.name], toMeta);
  }

  /** The current sealed values of the named secrets (missing names are simply absent). */
  async latestSealed(names: readonly string[]): Promise<SealedSecret[]> {
    if (names.length === 0) return [];
    const rows = await this.#db
      .selectFrom("secrets")
      .distinctOn("name")
      .select(["name", "version", "sealed", "key_id"])
      .where("tenant_id", "=", this.#tenantId)
      .where("name", "in", [...names])
      .where("deleted_at", "is", null)
      .orderBy("name")
      .orderBy("version", "desc")
      .execute();
    return rows.map((r) => ({ name: r.name, version: r.version, sealed: r.sealed, keyId: r.key_id }));
  }

  /** Deletes every version: a deleted secret's ciphertext does not linger. */
  async delete(name: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("secrets")
      .where("tenant_id", "=", this.#tenantId)
      .where("name", "=", name)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  #summary() {
    return this.#db
      .selectFrom("secrets")
      .select((eb) => [
        "name",
        eb.fn.max("version").as("version"),
        eb.fn.min("created_at").as("created_at"),
        eb.fn.max("created_at").as("updated_at"),
      ])
      .where("tenant_id", "=", this.#tenantId)
      .where("deleted_at", "is", null)
      .groupBy("name");
  }
}

function toMeta(row: { name: string; version: number; created_at: Date; updated_at: Date }): SecretMeta {
  return {
    name: row.name,
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
