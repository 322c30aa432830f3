import type { Kysely } from "kysely";
import { decodeCursor, type Page, toPage } from "./cursor.ts";
import type { Database, LogRow } from "./schema.ts";

export interface LogQuery {
  functionId?: string | undefined;
  invocationId?: string | undefined;
  since?: Date | undefined;
  limit: number;
  cursor?: string | undefined;
}

export class LogsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  /** Oldest first, so a page reads like a log file; the cursor continues after the last line. */
  async list(query: LogQuery): Promise<Page<LogRow>> {
    let q = this.#db
      .selectFrom("logs")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .orderBy("id")
      .limit(query.limit + 1);
    if (query.functionId) q = q.where("function_id", "=", query.functionId);
    if (query.invocationId) q = q.where("invocation_id", "=", query.invocationId);
    if (query.since) q = q.where("ts", ">=", query.since);
    if (query.cursor) {
      const [id] = decodeCursor(query.cursor, ["int"]);
      q = q.where("id", ">", String(id));
    }
    return toPage(
      await q.execute(),
      query.limit,
      (r) => [Number(r.id)],
      (r) => r,
    );
  }
}
