import type { Kysely, SelectQueryBuilder } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { AuditEventRow, AuditOutcome, Database } from "./schema.ts";

/** What a store made for one request adds to every entry it records: where the request came from. */
export interface AuditContext {
  /** The client's address (after trusted proxies). */
  address?: string | undefined;
}

/** Who changed what: key issuance, deploys, alias moves and rollbacks; refused and failed attempts too. */
export class AuditRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;
  readonly #context: AuditContext;

  constructor(db: Kysely<Database>, tenantId: string, context: AuditContext = {}) {
    this.#db = db;
    this.#tenantId = tenantId;
    this.#context = context;
  }

  async record(
    actor: string | null,
    action: string,
    target: string,
    details: unknown = {},
    outcome: AuditOutcome = "ok",
  ): Promise<void> {
    await this.#db
      .insertInto("audit_events")
      .values({
        tenant_id: this.#tenantId,
        actor,
        action,
        target,
        details: JSON.stringify(details),
        address: this.#context.address ?? null,
        outcome,
      })
      .execute();
  }

  /**
   * Newest first. `target` and `action` match exactly, or as a prefix when they end in "*"
   * ("function/orders*", "key.*"); `since`/`until` bound the time (inclusive, exclusive).
   */
  async list(page: PageOptions, filter: string | AuditFilter = {}): Promise<Page<AuditEventRow>> {
    return listAudit(
      this.#db,
      this.#tenantId,
      page,
      typeof filter === "string" ? { target: filter } : filter,
    );
  }
}

/**
 * Audit entries newest first, of one tenant or (tenantId null: the platform admin's view) of all.
 * The one query behind `AuditRepo.list` and `PlatformStore.audit`.
 */
export async function listAudit(
  db: Kysely<Database>,
  tenantId: string | null,
  page: PageOptions,
  f: AuditFilter,
): Promise<Page<AuditEventRow>> {
  let query = db
    .selectFrom("audit_events")
    .selectAll()
    .orderBy("id", "desc")
    .limit(page.limit + 1);
  if (tenantId !== null) query = query.where("tenant_id", "=", tenantId);
  if (f.target) query = matching(query, "target", f.target);
  if (f.action) query = matching(query, "action", f.action);
  if (f.actor) query = query.where("actor", "=", f.actor);
  if (f.outcome) query = query.where("outcome", "=", f.outcome);
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

export interface AuditFilter {
  action?: string | undefined;
  actor?: string | undefined;
  target?: string | undefined;
  outcome?: AuditOutcome | undefined;
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
