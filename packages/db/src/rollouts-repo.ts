import { newId } from "@kumo/core";
import type { Kysely, Updateable } from "kysely";
import { decodeIdCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, RolloutRow, RolloutsTable } from "./schema.ts";

export interface NewRollout {
  functionId: string;
  alias: string;
  fromVersion: number;
  toVersion: number;
  steps: number[];
  intervalMs: number;
  maxErrorRate: number;
  minRequests: number;
  createdBy: string | null;
}

/** What a transition may change on a running rollout. */
export type RolloutPatch = Omit<
  Updateable<RolloutsTable>,
  "id" | "tenant_id" | "function_id" | "alias" | "from_version" | "to_version" | "created_at"
>;

/** Gradual rollouts of one tenant. Transitions only ever move a rollout that is still running. */
export class RolloutsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  /** Starts at step 0; the unique index on running (function, alias) refuses a second one. */
  async create(input: NewRollout, now: Date): Promise<RolloutRow> {
    return this.#db
      .insertInto("rollouts")
      .values({
        id: newId("rol"),
        tenant_id: this.#tenantId,
        function_id: input.functionId,
        alias: input.alias,
        from_version: input.fromVersion,
        to_version: input.toVersion,
        steps: JSON.stringify(input.steps),
        step_index: 0,
        interval_ms: input.intervalMs,
        max_error_rate: input.maxErrorRate,
        min_requests: input.minRequests,
        status: "running",
        step_started_at: now,
        next_step_at: new Date(now.getTime() + input.intervalMs),
        created_by: input.createdBy,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async get(functionId: string, id: string): Promise<RolloutRow | undefined> {
    return this.#db
      .selectFrom("rollouts")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  /** Newest first. */
  async list(functionId: string, page: PageOptions): Promise<Page<RolloutRow>> {
    let query = this.#db
      .selectFrom("rollouts")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .orderBy("id", "desc")
      .limit(page.limit + 1);
    if (page.cursor) {
      const id = decodeIdCursor(page.cursor, "rol");
      query = query.where("id", "<", id);
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.id],
      (r) => r,
    );
  }

  async running(functionId: string): Promise<RolloutRow[]> {
    return this.#db
      .selectFrom("rollouts")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("status", "=", "running")
      .execute();
  }

  /**
   * Applies a patch if the rollout is still running, locking its row for the rest of the
   * transaction; undefined when it finished or was cancelled meanwhile.
   */
  async transition(id: string, patch: RolloutPatch): Promise<RolloutRow | undefined> {
    return this.#db
      .updateTable("rollouts")
      .set({ ...patch, updated_at: new Date() })
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .where("status", "=", "running")
      .returningAll()
      .executeTakeFirst();
  }

  /** Cancels the running rollout of an alias (a manual alias change or a deploy supersedes it). */
  async cancelRunning(functionId: string, alias: string, reason: string): Promise<RolloutRow[]> {
    const now = new Date();
    return this.#db
      .updateTable("rollouts")
      .set({ status: "cancelled", reason, updated_at: now, finished_at: now })
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("alias", "=", alias)
      .where("status", "=", "running")
      .returningAll()
      .execute();
  }
}
