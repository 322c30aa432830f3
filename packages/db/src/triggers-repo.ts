import { newId, type TriggerAlert, type TriggerSettings } from "@kumo/core";
import type { Kysely, Updateable } from "kysely";
import type {
  Database,
  TriggerCatchUp,
  TriggerOverlap,
  TriggerRow,
  TriggerRowKind,
  TriggerSource,
  TriggersTable,
} from "./schema.ts";

export interface NewTrigger {
  functionId: string;
  kind: TriggerRowKind;
  target: string;
  /** Cron triggers: the schedule; null for event triggers. */
  schedule: string | null;
  /** Event triggers: the event types they receive (`user.*`); null for cron triggers. */
  eventPattern: string | null;
  timezone: string;
  overlap: TriggerOverlap;
  catchUp: TriggerCatchUp;
  catchUpWindowMs: number;
  paused: boolean;
  source: TriggerSource;
  /** The first slot to fire, computed by the caller from the schedule. */
  nextFireAt: Date | null;
  createdBy: string | null;
  /** Queue and database triggers: what they listen to. */
  settings?: TriggerSettings | null;
  /** Cron triggers: up to this many ms of random delay per firing. */
  jitterMs?: number;
  alert?: TriggerAlert | null;
}

/** What a PATCH may change; a new schedule or zone comes with its recomputed next slot. */
export interface TriggerPatch {
  target?: string;
  schedule?: string;
  eventPattern?: string;
  timezone?: string;
  overlap?: TriggerOverlap;
  catchUp?: TriggerCatchUp;
  catchUpWindowMs?: number;
  paused?: boolean;
  nextFireAt?: Date | null;
  settings?: TriggerSettings;
  jitterMs?: number;
  /** null removes the alert. */
  alert?: TriggerAlert | null;
}

/** A function's triggers and their state, within one tenant. */
export class TriggersRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async list(functionId: string): Promise<TriggerRow[]> {
    return this.#db
      .selectFrom("triggers")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .orderBy("id")
      .execute();
  }

  async get(functionId: string, id: string): Promise<TriggerRow | undefined> {
    return this.#db
      .selectFrom("triggers")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  async count(functionId: string): Promise<number> {
    const row = await this.#db
      .selectFrom("triggers")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async create(input: NewTrigger): Promise<TriggerRow> {
    return this.#db.insertInto("triggers").values(this.#row(input)).returningAll().executeTakeFirstOrThrow();
  }

  async update(functionId: string, id: string, patch: TriggerPatch): Promise<TriggerRow | undefined> {
    const set: Updateable<TriggersTable> = { updated_at: new Date() };
    if (patch.target !== undefined) set.target = patch.target;
    if (patch.schedule !== undefined) set.schedule = patch.schedule;
    if (patch.eventPattern !== undefined) set.event_pattern = patch.eventPattern;
    if (patch.timezone !== undefined) set.timezone = patch.timezone;
    if (patch.overlap !== undefined) set.overlap = patch.overlap;
    if (patch.catchUp !== undefined) set.catch_up = patch.catchUp;
    if (patch.catchUpWindowMs !== undefined) set.catch_up_window_ms = patch.catchUpWindowMs;
    if (patch.paused !== undefined) set.paused = patch.paused;
    if (patch.nextFireAt !== undefined) set.next_fire_at = patch.nextFireAt;
    if (patch.settings !== undefined) set.settings = JSON.stringify(patch.settings);
    if (patch.jitterMs !== undefined) set.jitter_ms = patch.jitterMs;
    if (patch.alert !== undefined) {
      set.alert = patch.alert === null ? null : JSON.stringify(patch.alert);
      if (patch.alert === null) set.alert_status = "ok";
    }
    return this.#db
      .updateTable("triggers")
      .set(set)
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
  }

  async delete(functionId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("triggers")
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("id", "=", id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * Makes the function's kumo.json triggers exactly `wanted`: a declared trigger that already
   * exists (same kind, target, schedule or pattern, zone, and source: queue and broker, or
   * database and tables) keeps its id and state, and takes the declared settings, jitter and alert;
   * the others are removed and the new ones created. A queue trigger whose batch size changed thus
   * keeps its consumer and so its place in the queue. API-managed triggers are not touched. Run it
   * in the deploy's transaction.
   */
  async replaceFromConfig(functionId: string, wanted: readonly NewTrigger[]): Promise<TriggerRow[]> {
    const existing = (await this.list(functionId)).filter((t) => t.source === "config");
    const identity = (...parts: (string | null)[]) => parts.map((p) => p ?? "").join("\u0000");
    const rowKey = (r: TriggerRow) =>
      identity(r.kind, r.target, r.schedule, r.timezone, r.event_pattern, sourceIdentity(r.settings));
    const specKey = (w: NewTrigger) =>
      identity(w.kind, w.target, w.schedule, w.timezone, w.eventPattern, sourceIdentity(w.settings ?? null));
    const kept = new Map<string, TriggerRow>();
    for (const row of existing) {
      const key = rowKey(row);
      if (!kept.has(key) && wanted.some((w) => specKey(w) === key)) kept.set(key, row);
    }
    const keptIds = new Set([...kept.values()].map((r) => r.id));
    const stale = existing.filter((r) => !keptIds.has(r.id)).map((r) => r.id);
    if (stale.length > 0) {
      await this.#db
        .deleteFrom("triggers")
        .where("tenant_id", "=", this.#tenantId)
        .where("id", "in", stale)
        .execute();
    }
    const result: TriggerRow[] = [];
    const placed = new Set<string>();
    for (const spec of wanted) {
      const key = specKey(spec);
      const row = kept.get(key);
      if (row && !placed.has(key)) {
        placed.add(key);
        result.push(await this.#refresh(row, spec));
      } else if (!row) {
        result.push(await this.create({ ...spec, functionId, source: "config" }));
      }
    }
    return result;
  }

  /** Records a manual fire or an event delivery (the schedule's cursor does not move). */
  async recordManualFire(id: string, invocationId: string, firedAt: Date): Promise<void> {
    await this.#db
      .updateTable("triggers")
      .set({
        last_fired_at: firedAt,
        last_invocation_id: invocationId,
        last_status: "queued",
        updated_at: new Date(),
      })
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .execute();
  }

  /** A kept kumo.json trigger takes the declared settings, policies, jitter and alert. */
  async #refresh(row: TriggerRow, spec: NewTrigger): Promise<TriggerRow> {
    const same =
      JSON.stringify(row.settings) === JSON.stringify(spec.settings ?? null) &&
      JSON.stringify(row.alert) === JSON.stringify(spec.alert ?? null) &&
      row.jitter_ms === (spec.jitterMs ?? 0) &&
      row.overlap === spec.overlap &&
      row.catch_up === spec.catchUp &&
      row.catch_up_window_ms === spec.catchUpWindowMs;
    if (same) return row;
    const updated = await this.update(row.function_id, row.id, {
      ...(spec.settings ? { settings: spec.settings } : {}),
      alert: spec.alert ?? null,
      jitterMs: spec.jitterMs ?? 0,
      overlap: spec.overlap,
      catchUp: spec.catchUp,
      catchUpWindowMs: spec.catchUpWindowMs,
    });
    return updated ?? row;
  }

  #row(input: NewTrigger) {
    return {
      id: newId("trg"),
      tenant_id: this.#tenantId,
      function_id: input.functionId,
      kind: input.kind,
      target: input.target,
      schedule: input.schedule,
      event_pattern: input.eventPattern,
      timezone: input.timezone,
      overlap: input.overlap,
      catch_up: input.catchUp,
      catch_up_window_ms: input.catchUpWindowMs,
      paused: input.paused,
      source: input.source,
      next_fire_at: input.nextFireAt,
      created_by: input.createdBy,
      settings: input.settings ? JSON.stringify(input.settings) : null,
      jitter_ms: input.jitterMs ?? 0,
      alert: input.alert ? JSON.stringify(input.alert) : null,
    };
  }
}

/**
 * What a queue or database trigger listens to, as far as its identity goes: the same queue on the
 * same broker, or the same tables of the same database, is the same trigger (its consumer or
 * replication slot carries on); batch size, events, columns and filter may change in place.
 */
function sourceIdentity(settings: TriggerSettings | null): string {
  if (!settings) return "";
  if ("queue" in settings) return `queue:${settings.broker?.urlSecret ?? ""}:${settings.queue}`;
  return `database:${settings.connectionSecret}:${[...settings.tables].sort().join(",")}`;
}
