import type { Kysely } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { AuditEventRow, Database } from "./schema.ts";

/** Who changed what: key issuance, deploys, alias moves and rollbacks. */
export class AuditRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async record(actor: string | null, action: string, target: string, details: unknown = {}): Promise<void> {
    await this.#db
      .insertInto("audit_events")
      .values({ tenant_id: this.#tenantId, actor, action, target, details: JSON.stringify(details) })
      .execute();
  }

  async list(page: PageOptions, target?: string): Promise<Page<AuditEventRow>> {
    let query = this.#db
      .selectFrom("audit_events")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .orderBy("id", "desc")
      .limit(page.limit + 1);
    if (target) query = query.where("target", "=", target);
    if (page.cursor) {
      const [id] = decodeCursor(page.cursor, ["int"]);
      query = query.where("id", "<", String(id));
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [Number(r.id)],
      (r) => r,
    );
  }
}
