import type { Kysely } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, DomainRow } from "./schema.ts";

/** Custom domains of one tenant. Claims are global (hostname is the key); see PlatformStore.domain. */
export class DomainsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  /** Claims a hostname; undefined when any tenant (this one included) already holds it. */
  async claim(hostname: string, token: string, createdBy: string | null): Promise<DomainRow | undefined> {
    return this.#db
      .insertInto("domains")
      .values({ hostname, tenant_id: this.#tenantId, status: "pending", token, created_by: createdBy })
      .onConflict((oc) => oc.column("hostname").doNothing())
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

  async markVerified(hostname: string, by: string): Promise<DomainRow | undefined> {
    return this.#db
      .updateTable("domains")
      .set({ status: "verified", verified_at: new Date(), verified_by: by })
      .where("tenant_id", "=", this.#tenantId)
      .where("hostname", "=", hostname)
      .returningAll()
      .executeTakeFirst();
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
