import { invalid } from "@kumo/core";
import { type Kysely, sql } from "kysely";
import { decodeCursor, type Page, toPage } from "./cursor.ts";
import type { LogLevel } from "./log-line.ts";
import type { Database, LogRow } from "./schema.ts";

export const LOG_ORDERS = ["desc", "asc"] as const;
export type LogOrder = (typeof LOG_ORDERS)[number];

export interface LogQuery {
  functionId?: string | undefined;
  invocationId?: string | undefined;
  /** Lines at or after this time. */
  from?: Date | undefined;
  /** Lines at or before this time. */
  to?: Date | undefined;
  /** Lines of any of these levels. */
  levels?: readonly LogLevel[] | undefined;
  /** Case-insensitive substring of the line (a JSON line's text included). */
  q?: string | undefined;
  version?: number | undefined;
  /** Newest first (default) or oldest first. */
  order?: LogOrder | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** Rows read per statement while streaming an export. */
const STREAM_BATCH = 1000;

/**
 * A tenant's function logs. Pages are in time order, `(ts, id)` breaking ties, and the cursor is
 * that key of the last line: a page is one index range scan however deep it is, and lines written
 * meanwhile never shift it. Text search is `ILIKE '%q%'`, which the trigram index serves (see
 * migration 0012); without pg_trgm it is a filter over the function's range.
 */
export class LogsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async list(query: LogQuery): Promise<Page<LogRow>> {
    const order = query.order ?? "desc";
    let q = this.#db
      .selectFrom("logs")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .orderBy("ts", order)
      .orderBy("id", order)
      .limit(query.limit + 1);
    if (query.functionId) q = q.where("function_id", "=", query.functionId);
    if (query.invocationId) q = q.where("invocation_id", "=", query.invocationId);
    if (query.from) q = q.where("ts", ">=", query.from);
    if (query.to) q = q.where("ts", "<=", query.to);
    if (query.version !== undefined) q = q.where("version", "=", query.version);
    if (query.levels && query.levels.length > 0) {
      const levels = [...new Set(query.levels)];
      q = levels.length === 1 ? q.where("level", "=", levels[0] as string) : q.where("level", "in", levels);
    }
    if (query.q) q = q.where("message", "ilike", `%${escapeLike(query.q)}%`);
    if (query.cursor) {
      const [cursorOrder, tsMs, id] = decodeCursor(query.cursor, ["string", "int", "int"]);
      if (cursorOrder !== order) {
        throw invalid(`invalid cursor: it continues a page in "${cursorOrder}" order; pass the same order`, {
          problems: [{ field: "cursor", rule: "cursor", message: `issued for order=${cursorOrder}` }],
        });
      }
      const after = new Date(tsMs);
      q =
        order === "desc"
          ? q.where(sql<boolean>`(ts, id) < (${after}, ${String(id)}::bigint)`)
          : q.where(sql<boolean>`(ts, id) > (${after}, ${String(id)}::bigint)`);
    }
    return toPage(
      await q.execute(),
      query.limit,
      (r) => [order, r.ts.getTime(), Number(r.id)],
      (r) => r,
    );
  }

  /**
   * Every line of the query, oldest first, read in batches as the consumer pulls (an export
   * streams however many lines there are without holding them). Stops when the consumer does.
   */
  async *stream(query: Omit<LogQuery, "order" | "limit" | "cursor">): AsyncGenerator<LogRow> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...query, order: "asc", limit: STREAM_BATCH, cursor });
      for (const row of page.items) yield row;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
}

/** `q` as a LIKE pattern's literal part: %, _ and the escape character itself match themselves. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
