import { newId } from "@kumo/core";
import type { Kysely } from "kysely";
import { decodeIdCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { ApiKeyRow, Database, Role } from "./schema.ts";

export class ApiKeysRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async create(input: {
    name: string;
    role: Role;
    keyHash: string;
    createdBy: string | null;
    /** Function names the key is limited to; absent: all. */
    functions?: string[] | undefined;
    expiresAt?: Date | undefined;
  }): Promise<ApiKeyRow> {
    return this.#db
      .insertInto("api_keys")
      .values({
        id: newId("key"),
        tenant_id: this.#tenantId,
        name: input.name,
        role: input.role,
        key_hash: input.keyHash,
        created_by: input.createdBy,
        functions: input.functions ? JSON.stringify(input.functions) : null,
        expires_at: input.expiresAt ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async list(page: PageOptions): Promise<Page<ApiKeyRow>> {
    let query = this.#db
      .selectFrom("api_keys")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      // Ids start with their creation time (newId), so id order is creation order; created_at has
      // microseconds that a cursor would lose.
      .orderBy("id")
      .limit(page.limit + 1);
    if (page.cursor) {
      const id = decodeIdCursor(page.cursor, "key");
      query = query.where("id", ">", id);
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.id],
      (r) => r,
    );
  }

  async revoke(id: string): Promise<ApiKeyRow | undefined> {
    return this.#db
      .updateTable("api_keys")
      .set({ revoked_at: new Date() })
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .returningAll()
      .executeTakeFirst();
  }

  async get(id: string): Promise<ApiKeyRow | undefined> {
    return this.#db
      .selectFrom("api_keys")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .executeTakeFirst();
  }
}
