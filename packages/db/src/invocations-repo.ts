import type { Kysely } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, InvocationRow, InvocationStatus } from "./schema.ts";

export interface InvocationFilter {
  functionId: string;
  status?: InvocationStatus | undefined;
  version?: number | undefined;
}

export class InvocationsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async get(id: string): Promise<InvocationRow | undefined> {
    return this.#db
      .selectFrom("invocations")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  async list(filter: InvocationFilter, page: PageOptions): Promise<Page<InvocationRow>> {
    let query = this.#db
      .selectFrom("invocations")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", filter.functionId)
      .orderBy("started_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit + 1);
    if (filter.status) query = query.where("status", "=", filter.status);
    if (filter.version !== undefined) query = query.where("version", "=", filter.version);
    if (page.cursor) {
      const [at, id] = decodeCursor(page.cursor, 2);
      query = query.where((eb) =>
        eb.or([
          eb("started_at", "<", new Date(String(at))),
          eb.and([eb("started_at", "=", new Date(String(at))), eb("id", "<", String(id))]),
        ]),
      );
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.started_at.toISOString(), r.id],
      (r) => r,
    );
  }
}
