import type { Kysely } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, InvocationRow, InvocationStatus } from "./schema.ts";

export interface InvocationFilter {
  functionId: string;
  status?: InvocationStatus | undefined;
  version?: number | undefined;
  /** The kind of trigger: "http", "api", "cron", ... */
  trigger?: string | undefined;
  triggerId?: string | undefined;
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

  /** How many invocations of one version started since `since`, and how many of them failed. */
  async outcomes(
    functionId: string,
    version: number,
    since: Date,
  ): Promise<{ total: number; failed: number }> {
    const row = await this.#db
      .selectFrom("invocations")
      .select((eb) => [
        eb.fn.countAll<string>().as("total"),
        eb.fn.count<string>("id").filterWhere("status", "=", "failed").as("failed"),
      ])
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("started_at", ">=", since)
      .where("version", "=", version)
      .executeTakeFirst();
    return { total: Number(row?.total ?? 0), failed: Number(row?.failed ?? 0) };
  }

  /** Invocations sitting in the dead-letter stream, newest first. */
  async deadLetters(functionId: string, page: PageOptions): Promise<Page<InvocationRow>> {
    let query = this.#db
      .selectFrom("invocations")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("dead_letter_seq", "is not", null)
      .orderBy("finished_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit + 1);
    if (page.cursor) {
      const [at, id] = decodeCursor(page.cursor, ["date", "string"]);
      query = query.where((eb) =>
        eb.or([eb("finished_at", "<", at), eb.and([eb("finished_at", "=", at), eb("id", "<", id)])]),
      );
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [(r.finished_at ?? r.started_at).toISOString(), r.id],
      (r) => r,
    );
  }

  /**
   * Takes an invocation out of the dead letters for a redrive: queued again for the next attempt.
   * Returns false when it is not (or no longer) a dead letter, e.g. a concurrent redrive won.
   */
  async requeueDeadLetter(id: string, seq: string, nextRecordSeq: number): Promise<boolean> {
    const result = await this.#db
      .updateTable("invocations")
      .set({
        status: "queued",
        dead_letter_seq: null,
        record_seq: nextRecordSeq,
        error_code: null,
        error_message: null,
        finished_at: null,
      })
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .where("dead_letter_seq", "=", seq)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
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
    if (filter.trigger !== undefined) query = query.where("trigger", "=", filter.trigger);
    if (filter.triggerId !== undefined) query = query.where("trigger_id", "=", filter.triggerId);
    if (page.cursor) {
      // started_at is written from a JS Date (millisecond precision), so the ISO cursor is exact.
      const [at, id] = decodeCursor(page.cursor, ["date", "string"]);
      query = query.where((eb) =>
        eb.or([eb("started_at", "<", at), eb.and([eb("started_at", "=", at), eb("id", "<", id)])]),
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
