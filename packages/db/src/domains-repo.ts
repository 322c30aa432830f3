import type { Kysely } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, DomainRow } from "./schema.ts";

/** A claim just verified, and the tenants whose pending claims on the same hostname it removed. */
export interface VerifiedClaim {
  domain: DomainRow;
  superseded: string[];
}

/**
 * Custom domains of one tenant. A claim is keyed by hostname and tenant; the hostname is unique only
 * among verified claims, so claiming and verifying also look at other tenants' rows for it (see
 * PlatformStore.domainClaims for the platform admin's view).
 */
export class DomainsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  /**
   * Claims a hostname (pending); undefined when this tenant already holds a claim on it or another
   * tenant has verified it. Other tenants' pending claims do not block: the first to verify wins.
   */
  async claim(hostname: string, token: string, createdBy: string | null): Promise<DomainRow | undefined> {
    const verified = await this.#db
      .selectFrom("domains")
      .select("tenant_id")
      .where("hostname", "=", hostname)
      .where("status", "=", "verified")
      .executeTakeFirst();
    if (verified) return undefined;
    return this.#db
      .insertInto("domains")
      .values({ hostname, tenant_id: this.#tenantId, status: "pending", token, created_by: createdBy })
      .onConflict((oc) => oc.columns(["hostname", "tenant_id"]).doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  async get(hostname: string): Promise<DomainRow | undefined> {
    return this.#db
      .selectFrom("domains")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("hostname", "=", hostname)
      .executeTakeFirst();
  }

  async list(page: PageOptions): Promise<Page<DomainRow>> {
    let query = this.#db
      .selectFrom("domains")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .orderBy("hostname")
      .limit(page.limit + 1);
    if (page.cursor) {
      const [hostname] = decodeCursor(page.cursor, ["string"]);
      query = query.where("hostname", ">", hostname);
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.hostname],
      (r) => r,
    );
  }

  /**
   * Marks this tenant's claim verified and removes every other tenant's pending claim on the
   * hostname, whose tenant ids come back as `superseded`. Undefined when this tenant holds no claim
   * or another tenant verified the hostname first.
   */
  async markVerified(hostname: string, by: string): Promise<VerifiedClaim | undefined> {
    const verify = async (db: Kysely<Database>): Promise<VerifiedClaim | undefined> => {
      const domain = await db
        .updateTable("domains")
        .set({ status: "verified", verified_at: new Date(), verified_by: by })
        .where("tenant_id", "=", this.#tenantId)
        .where("hostname", "=", hostname)
        .returningAll()
        .executeTakeFirst();
      if (!domain) return undefined;
      const superseded = await db
        .deleteFrom("domains")
        .where("hostname", "=", hostname)
        .where("tenant_id", "<>", this.#tenantId)
        .where("status", "=", "pending")
        .returning("tenant_id")
        .execute();
      return { domain, superseded: superseded.map((r) => r.tenant_id) };
    };
    try {
      return this.#db.isTransaction ? await verify(this.#db) : await this.#db.transaction().execute(verify);
    } catch (error) {
      // domains_verified_hostname_key: another tenant's claim was verified first.
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  async delete(hostname: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("domains")
      .where("tenant_id", "=", this.#tenantId)
      .where("hostname", "=", hostname)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "23505";
}
