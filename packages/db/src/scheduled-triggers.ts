import { type Kysely, sql } from "kysely";
import type { Database, InvocationStatus, TriggerRow, TriggerRunStatus } from "./schema.ts";

/** A due trigger with what the scheduler needs to decide about it. */
export interface DueTrigger extends TriggerRow {
  function_name: string;
  /** Status of the record of its last run (null: none, or not written yet). */
  last_run_status: InvocationStatus | null;
}

/** One fired slot, as the trigger's state records it. */
export interface FiredSlot {
  scheduledAt: Date;
  firedAt: Date;
  invocationId: string;
  nextFireAt: Date | null;
}

/**
 * The scheduler's view of every tenant's triggers: which are due, and the writes that move their
 * cursor. Writes compare the cursor the decision was made on (`next_fire_at`), so a scheduler that
 * lost its lease without noticing cannot move a trigger its successor already moved.
 */
export class ScheduledTriggers {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Unpaused triggers whose next slot is at or before `now`, earliest first. */
  async due(now: Date, limit: number): Promise<DueTrigger[]> {
    const rows = await this.#db
      .selectFrom("triggers as t")
      .innerJoin("functions as f", (j) =>
        j.onRef("f.id", "=", "t.function_id").onRef("f.tenant_id", "=", "t.tenant_id"),
      )
      .leftJoin("invocations as i", (j) =>
        j.onRef("i.id", "=", "t.last_invocation_id").onRef("i.tenant_id", "=", "t.tenant_id"),
      )
      .selectAll("t")
      .select(["f.name as function_name", "i.status as last_run_status"])
      .where("t.kind", "=", "cron")
      .where("t.paused", "=", false)
      .where("t.next_fire_at", "<=", now)
      .orderBy("t.next_fire_at")
      .limit(limit)
      .execute();
    return rows;
  }

  /** Records a fired slot and moves the cursor past it. False when another scheduler moved it first. */
  async fired(trigger: TriggerRow, slot: FiredSlot): Promise<boolean> {
    const result = await this.#db
      .updateTable("triggers")
      .set({
        last_scheduled_at: slot.scheduledAt,
        last_fired_at: slot.firedAt,
        last_invocation_id: slot.invocationId,
        last_status: "queued",
        next_fire_at: slot.nextFireAt,
        updated_at: new Date(),
      })
      .where("id", "=", trigger.id)
      .where(this.#sameCursor(trigger))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Moves the cursor without firing: slots skipped (overlap, catch-up) or a trigger that cannot fire
   * (its function has no version, its zone is unknown), whose error is shown in its state.
   */
  async advance(
    trigger: TriggerRow,
    next: { nextFireAt: Date | null; status?: TriggerRunStatus; error?: string },
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable("triggers")
      .set({
        next_fire_at: next.nextFireAt,
        ...(next.status ? { last_status: next.status } : {}),
        ...(next.error !== undefined ? { last_error: next.error } : {}),
        ...(next.status === "error" ? { consecutive_failures: sql`consecutive_failures + 1` } : {}),
        updated_at: new Date(),
      })
      .where("id", "=", trigger.id)
      .where(this.#sameCursor(trigger))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Copies finished runs' outcomes into their triggers' state: succeeded resets the failure count,
   * failed increments it and keeps the error. Returns how many triggers changed.
   */
  async settleOutcomes(): Promise<number> {
    const result = await sql`
      update triggers t set
        last_status = i.status,
        consecutive_failures = case when i.status = 'failed' then t.consecutive_failures + 1
          when i.status = 'succeeded' then 0 else t.consecutive_failures end,
        last_error = case when i.status = 'failed'
          then coalesce(i.error_code || ': ', '') || coalesce(i.error_message, 'the run failed')
          when i.status = 'succeeded' then null else t.last_error end,
        updated_at = now()
      from invocations i
      where i.id = t.last_invocation_id and i.tenant_id = t.tenant_id
        and t.last_status in ('queued', 'running') and i.status <> t.last_status`.execute(this.#db);
    return Number(result.numAffectedRows ?? 0);
  }

  #sameCursor(trigger: TriggerRow) {
    return sql<boolean>`next_fire_at is not distinct from ${trigger.next_fire_at}`;
  }
}
