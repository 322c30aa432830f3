import type { Kysely, SelectQueryBuilder } from "kysely";
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

  /**
   * Newest first. `target` and `action` match exactly, or as a prefix when they end in "*"
   * ("function/orders*", "key.*"); `since`/`until` bound the time (inclusive, exclusive).
   */
  async list(page: PageOptions, filter: string | AuditFilter = {}): Promise<Page<AuditEventRow>> {
    const f: AuditFilter = typeof filter === "string" ? { target: filter } : filter;
    let query = this.#db
      .selectFrom("audit_events")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .orderBy("id", "desc")
      .limit(page.limit + 1);
    if (f.target) query = matching(query, "target", f.target);
    if (f.action) query = matching(query, "action", f.action);
    if (f.actor) query = query.where("actor", "=", f.actor);
    if (f.since) query = query.where("at", ">=", f.since);
    if (f.until) query = query.where("at", "<", f.until);
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

export interface AuditFilter {
  action?: string | undefined;
  actor?: string | undefined;
  target?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

function matching<Q extends SelectQueryBuilder<Database, "audit_events", AuditEventRow>>(
  query: Q,
  column: "action" | "target",
  pattern: string,
): Q {
  if (!pattern.endsWith("*")) return query.where(column, "=", pattern) as Q;
  const prefix = pattern.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`);
  return query.where(column, "like", `${prefix}%`) as Q;
}
