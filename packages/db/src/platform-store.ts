import { newId } from "@kumo/core";
import type { Kysely } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { ApiKeyRow, Database, TenantRow } from "./schema.ts";
import { TenantStore } from "./tenant-store.ts";

/**
 * The only data access that is not tenant-scoped: creating and finding tenants, and resolving an API
 * key to its tenant. Everything else goes through `tenant(id)`, which binds the tenant once.
 */
export class PlatformStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** A store whose every query is scoped to this tenant. */
  tenant(tenantId: string): TenantStore {
    return new TenantStore(this.#db, tenantId);
  }

  async createTenant(name: string): Promise<TenantRow> {
    return this.#db
      .insertInto("tenants")
      .values({ id: newId("ten"), name })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async tenantByName(name: string): Promise<TenantRow | undefined> {
    return this.#db.selectFrom("tenants").selectAll().where("name", "=", name).executeTakeFirst();
  }

  async tenantById(id: string): Promise<TenantRow | undefined> {
    return this.#db.selectFrom("tenants").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async listTenants(page: PageOptions): Promise<Page<TenantRow>> {
    let query = this.#db
      .selectFrom("tenants")
      .selectAll()
      .orderBy("name")
      .limit(page.limit + 1);
    if (page.cursor) {
      const [name] = decodeCursor(page.cursor, 1);
      query = query.where("name", ">", String(name));
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.name],
      (r) => r,
    );
  }

  /** Resolves a key hash to a live key, with its tenant name for URLs. */
  async findKeyByHash(keyHash: string): Promise<(ApiKeyRow & { tenant_name: string }) | undefined> {
    return this.#db
      .selectFrom("api_keys")
      .innerJoin("tenants", "tenants.id", "api_keys.tenant_id")
      .selectAll("api_keys")
      .select("tenants.name as tenant_name")
      .where("api_keys.key_hash", "=", keyHash)
      .executeTakeFirst();
  }

  async touchKey(keyId: string, at: Date): Promise<void> {
    await this.#db.updateTable("api_keys").set({ last_used_at: at }).where("id", "=", keyId).execute();
  }
}
