import { newId } from "@kumo/core";
import { type Kysely, sql } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { ApiKeyRow, Database, DomainRow, RolloutRow, TenantRow } from "./schema.ts";
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

  /**
   * Fails deployments left queued or building for longer than `olderThanMs` (a gateway that ran their
   * build stopped). Returns how many it failed.
   */
  async failInterruptedDeployments(olderThanMs: number, message: string): Promise<number> {
    const rows = await this.#db
      .updateTable("deployments")
      .set({ status: "failed", error_code: "FN_005", error_message: message, finished_at: new Date() })
      .where("status", "in", ["queued", "building"])
      .where("finished_at", "is", null)
      .where("created_at", "<", new Date(Date.now() - olderThanMs))
      .returning("id")
      .execute();
    return rows.length;
  }

  /**
   * Container versions that ask for warm instances (`scaling.minInstances` > 0) and that an alias
   * routes traffic to (weight > 0), across tenants: what autoscaler nodes pre-warm.
   */
  async warmVersions(): Promise<
    { tenantId: string; functionId: string; versionId: string; version: number; minInstances: number }[]
  > {
    const rows = await sql<{
      tenant_id: string;
      function_id: string;
      id: string;
      version: number;
      min_instances: number;
    }>`
      select distinct v.tenant_id, v.function_id, v.id, v.version,
        (v.config->'scaling'->>'minInstances')::int as min_instances
      from versions v
      join aliases a on a.tenant_id = v.tenant_id and a.function_id = v.function_id
      cross join lateral jsonb_array_elements(a.routing) e
      where (e->>'version')::int = v.version and (e->>'weight')::int > 0
        and v.runtime <> 'edge'
        and coalesce((v.config->'scaling'->>'minInstances')::int, 0) > 0
    `.execute(this.#db);
    return rows.rows.map((r) => ({
      tenantId: r.tenant_id,
      functionId: r.function_id,
      versionId: r.id,
      version: r.version,
      minInstances: r.min_instances,
    }));
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
      const [name] = decodeCursor(page.cursor, ["string"]);
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

  /**
   * Claims running rollouts whose step is due, across tenants, by pushing their next_step_at forward
   * by `leaseMs` in the same statement; `skip locked` lets several gateways' drivers claim at once
   * without taking the same rollout. A driver that dies mid-step leaves it to be claimed again when
   * the lease runs out.
   */
  async claimDueRollouts(limit: number, leaseMs: number): Promise<RolloutRow[]> {
    const result = await sql<RolloutRow>`
      update rollouts set next_step_at = now() + make_interval(secs => ${leaseMs / 1000})
      where id in (
        select id from rollouts
        where status = 'running' and next_step_at <= now()
        order by next_step_at
        limit ${limit}
        for update skip locked)
      returning *`.execute(this.#db);
    return result.rows;
  }

  /** Who holds a hostname, pending or verified, whichever tenant it is. */
  async domain(hostname: string): Promise<DomainRow | undefined> {
    return this.#db.selectFrom("domains").selectAll().where("hostname", "=", hostname).executeTakeFirst();
  }

  /** Every verified custom domain with its tenant: the hosts the gateway routes. */
  async verifiedDomains(): Promise<{ hostname: string; tenant_id: string; tenant_name: string }[]> {
    return this.#db
      .selectFrom("domains")
      .innerJoin("tenants", "tenants.id", "domains.tenant_id")
      .select(["domains.hostname", "domains.tenant_id", "tenants.name as tenant_name"])
      .where("domains.status", "=", "verified")
      .execute();
  }

  async touchKey(keyId: string, at: Date): Promise<void> {
    await this.#db.updateTable("api_keys").set({ last_used_at: at }).where("id", "=", keyId).execute();
  }
}
