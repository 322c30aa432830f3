import { type Kysely, sql } from "kysely";
import type {
  AlertDelivery,
  Database,
  InvocationStatus,
  TriggerAlertStatus,
  TriggerRow,
  TriggerRunStatus,
} from "./schema.ts";

/** A due trigger with what the scheduler needs to decide about it. */
export interface DueTrigger extends TriggerRow {
  function_name: string;
  /** Status of the record of its last run (null: none, or not written yet). */
  last_run_status: InvocationStatus | null;
  /** This slot's jitter: it fires this many ms after the slot. */
  jitter_offset_ms: number;
}

/** Fired slots written per statement. */
const FIRED_BATCH = 500;

/** A trigger whose failure alert or recovery notice is due. */
export interface AlertDueTrigger extends TriggerRow {
  function_name: string;
  tenant_name: string;
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
  readonly #firedQueue: {
    trigger: TriggerRow;
    slot: FiredSlot;
    resolve: (moved: boolean) => void;
    reject: (error: unknown) => void;
  }[] = [];

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Unpaused cron triggers to look at now, earliest first: those whose next slot plus its jitter
   * offset is at or before `now`, and those holding a queued slot (overlap "queue"). The offset is
   * a hash of the trigger and the slot, so every scheduler (and a successor after a failover) waits
   * the same time for the same slot.
   */
  async due(now: Date, limit: number): Promise<DueTrigger[]> {
    const jitter = sql<number>`case when t.jitter_ms > 0
      then abs(hashtext(t.id || ':' || extract(epoch from t.next_fire_at)::text)) % t.jitter_ms else 0 end`;
    const rows = await this.#db
      .selectFrom("triggers as t")
      .innerJoin("functions as f", (j) =>
        j.onRef("f.id", "=", "t.function_id").onRef("f.tenant_id", "=", "t.tenant_id"),
      )
      .leftJoin("invocations as i", (j) =>
        j.onRef("i.id", "=", "t.last_invocation_id").onRef("i.tenant_id", "=", "t.tenant_id"),
      )
      .selectAll("t")
      .select(["f.name as function_name", "i.status as last_run_status", jitter.as("jitter_offset_ms")])
      .where("t.kind", "=", "cron")
      .where("t.paused", "=", false)
      .where((eb) =>
        eb.or([
          eb.and([
            eb("t.next_fire_at", "<=", now),
            eb(sql`t.next_fire_at + (${jitter}) * interval '1 millisecond'`, "<=", now),
          ]),
          eb("t.queued_slot", "is not", null),
        ]),
      )
      .orderBy("t.next_fire_at")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ...r, jitter_offset_ms: Number(r.jitter_offset_ms) }));
  }

  /**
   * Overlap "queue": the slot that came while the previous run was in flight waits; the cursor moves
   * past it. At most one waits: a later slot while one already waits is skipped.
   */
  async queueSlot(trigger: TriggerRow, slot: Date, nextFireAt: Date | null): Promise<boolean> {
    const result = await this.#db
      .updateTable("triggers")
      .set({
        queued_slot: sql`coalesce(queued_slot, ${slot})`,
        next_fire_at: nextFireAt,
        updated_at: new Date(),
      })
      .where("id", "=", trigger.id)
      .where(this.#sameCursor(trigger))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records the firing of a queued slot (the cursor stays where it is). */
  async firedQueued(trigger: TriggerRow, slot: Omit<FiredSlot, "nextFireAt">): Promise<boolean> {
    const result = await this.#db
      .updateTable("triggers")
      .set({
        last_scheduled_at: slot.scheduledAt,
        last_fired_at: slot.firedAt,
        last_invocation_id: slot.invocationId,
        last_status: "queued",
        queued_slot: null,
        updated_at: new Date(),
      })
      .where("id", "=", trigger.id)
      .where("queued_slot", "=", slot.scheduledAt)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records a fired slot and moves the cursor past it. False when another scheduler moved it first. */
  fired(trigger: TriggerRow, slot: FiredSlot): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#firedQueue.push({ trigger, slot, resolve, reject });
      if (this.#firedQueue.length === 1) setImmediate(() => void this.#writeFired());
    });
  }

  /**
   * The fired slots of one event-loop turn in one UPDATE: a leader firing a thousand triggers a
   * second writes a few statements, not a thousand. Each row still compares its own cursor.
   */
  async #writeFired(): Promise<void> {
    const batch = this.#firedQueue.splice(0, FIRED_BATCH);
    if (this.#firedQueue.length > 0) setImmediate(() => void this.#writeFired());
    if (batch.length === 0) return;
    const rows = batch.map(
      ({ trigger, slot }) =>
        sql`(${trigger.id}, ${slot.scheduledAt}::timestamptz, ${slot.firedAt}::timestamptz, ${slot.invocationId},
          ${slot.nextFireAt}::timestamptz, ${trigger.next_fire_at}::timestamptz)`,
    );
    try {
      const result = await sql<{ id: string; cursor: Date | null }>`
        update triggers t set
          last_scheduled_at = v.scheduled_at, last_fired_at = v.fired_at,
          last_invocation_id = v.invocation_id, last_status = 'queued',
          next_fire_at = v.next_fire_at, updated_at = now()
        from (values ${sql.join(rows)}) as v(id, scheduled_at, fired_at, invocation_id, next_fire_at, cursor)
        where t.id = v.id and t.next_fire_at is not distinct from v.cursor
        returning t.id`.execute(this.#db);
      const moved = new Set(result.rows.map((r) => r.id));
      for (const item of batch) item.resolve(moved.has(item.trigger.id));
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
  }

  /**
   * Moves the cursor without firing: slots skipped (overlap, catch-up) or a trigger that cannot fire
   * (its function has no version, its zone is unknown), whose error is shown in its state.
   */
  async advance(
    trigger: TriggerRow,
    next: { nextFireAt: Date | null; status?: TriggerRunStatus; error?: string; clearQueuedSlot?: boolean },
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable("triggers")
      .set({
        next_fire_at: next.nextFireAt,
        ...(next.status ? { last_status: next.status } : {}),
        ...(next.error !== undefined ? { last_error: next.error } : {}),
        ...(next.status === "error" ? { consecutive_failures: sql`consecutive_failures + 1` } : {}),
        ...(next.clearQueuedSlot ? { queued_slot: null } : {}),
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

  /** The earliest next slot of an unpaused cron trigger (the idle scheduler sleeps until it), or null. */
  async nextFireAt(): Promise<Date | null> {
    const row = await this.#db
      .selectFrom("triggers")
      .select((eb) => eb.fn.min("next_fire_at").as("next"))
      .where("kind", "=", "cron")
      .where("paused", "=", false)
      .executeTakeFirst();
    const next = row?.next as Date | string | null | undefined;
    return next == null ? null : new Date(next);
  }

  /**
   * Triggers whose alert state must change: failing at least `alert.after` times in a row while
   * "ok" (send the failure alert), or succeeding again while "alerting" (send the recovery). State,
   * not events: a leader that died before sending leaves the row for its successor.
   */
  async alertsDue(limit: number): Promise<AlertDueTrigger[]> {
    return this.#db
      .selectFrom("triggers as t")
      .innerJoin("functions as f", (j) =>
        j.onRef("f.id", "=", "t.function_id").onRef("f.tenant_id", "=", "t.tenant_id"),
      )
      .innerJoin("tenants as n", "n.id", "t.tenant_id")
      .selectAll("t")
      .select(["f.name as function_name", "n.name as tenant_name"])
      .where("t.alert", "is not", null)
      .where((eb) =>
        eb.or([
          eb.and([
            eb("t.alert_status", "=", "ok"),
            eb("t.consecutive_failures", ">=", sql<number>`coalesce((t.alert->>'after')::int, 1)`),
          ]),
          eb.and([
            eb("t.alert_status", "=", "alerting"),
            eb("t.consecutive_failures", "=", 0),
            eb("t.last_status", "=", "succeeded"),
          ]),
        ]),
      )
      .orderBy("t.updated_at")
      .limit(limit)
      .execute();
  }

  /**
   * Moves a trigger's alert state after an alert was sent (or could not be): false when its state
   * changed meanwhile (another leader sent it).
   */
  async alerted(trigger: TriggerRow, status: TriggerAlertStatus, delivery: AlertDelivery): Promise<boolean> {
    const result = await this.#db
      .updateTable("triggers")
      .set({ alert_status: status, alert_delivery: JSON.stringify(delivery) })
      .where("id", "=", trigger.id)
      .where("alert_status", "=", trigger.alert_status)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  #sameCursor(trigger: TriggerRow) {
    return sql<boolean>`next_fire_at is not distinct from ${trigger.next_fire_at}`;
  }
}
