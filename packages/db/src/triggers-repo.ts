import { newId } from "@kumo/core";
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
   * exists (same kind, target, schedule or pattern, and zone) keeps its id and state, the others are removed and the
   * new ones created. API-managed triggers are not touched. Run it in the deploy's transaction.
   */
  async replaceFromConfig(functionId: string, wanted: readonly NewTrigger[]): Promise<TriggerRow[]> {
    const existing = (await this.list(functionId)).filter((t) => t.source === "config");
    const identity = (...parts: (string | null)[]) => parts.map((p) => p ?? "").join("\u0000");
    const rowKey = (r: TriggerRow) => identity(r.kind, r.target, r.schedule, r.timezone, r.event_pattern);
    const specKey = (w: NewTrigger) => identity(w.kind, w.target, w.schedule, w.timezone, w.eventPattern);
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
        result.push(row);
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
    };
  }
}
