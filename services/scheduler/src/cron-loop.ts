import { type AsyncInvocations, cronInvocation } from "@kumo/bus";
import { type CronProblem, CronSchedule, type FunctionConfig, KumoError } from "@kumo/core";
import {
  type DueTrigger,
  type PlatformStore,
  queuedInvocation,
  type Recorder,
  type ScheduledTriggers,
  targetVersion,
} from "@kumo/db";
import { planSlot } from "./slot-plan.ts";

export interface CronLoopOptions {
  platform: PlatformStore;
  sender: AsyncInvocations;
  recorder: Recorder;
  /** Whether this process may fire now (it holds the leader lease). */
  isLeader: () => boolean;
  tickMs: number;
  misfireGraceMs: number;
  /** Injectable clock (epoch ms), for tests. */
  now?: () => number;
  log: (line: string) => void;
}

/** Due triggers read per query; a tick repeats the query while it comes back full. */
const BATCH = 1000;
/** Distinct (schedule, zone) pairs kept parsed. */
const MAX_CACHED_SCHEDULES = 10_000;
/** Queries per tick at most: queued slots still waiting come back in every query. */
const MAX_BATCHES_PER_TICK = 20;
/** An idle loop waits at most this many ticks (1 s at the default 250 ms). */
export const IDLE_TICKS = 4;
/** A run whose record still says queued or running after this long is presumed lost (overlap skip). */
const IN_FLIGHT_BOUND_MS = 3 * 3_600_000;

/**
 * The leader's loop: every tick, the due cron triggers are fired (each slot one async invocation,
 * deduplicated by `triggerId:scheduledAt`) and their cursors moved; finished runs' outcomes are
 * copied into trigger state. The cursor moves only after the stream stored the message, so a slot
 * is never lost: a crash in between makes the next leader publish it again, which the stream drops
 * as a duplicate. A trigger that cannot fire gets an error state; the others go on.
 */
export class CronLoop {
  readonly #options: CronLoopOptions;
  readonly #scheduled: ScheduledTriggers;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #lookups = new Map<string, Promise<unknown>>();
  readonly #schedules = new Map<string, CronSchedule | CronProblem>();
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: CronLoopOptions) {
    this.#options = options;
    this.#scheduled = options.platform.scheduledTriggers();
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    const loop = () => {
      if (this.#stopped) return;
      this.#running = this.#pass()
        .catch((error: unknown) => {
          this.#options.log(`scheduler tick failed: ${String(error)}`);
          return this.#options.tickMs;
        })
        .then((delayMs) => {
          if (!this.#stopped) this.#timer = setTimeout(loop, delayMs);
        });
    };
    loop();
  }

  /** Stops ticking; resolves when the tick in progress ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass: fire what is due, then record finished runs' outcomes. Exposed for tests. */
  async tick(): Promise<void> {
    await this.#pass();
  }

  /**
   * A tick; resolves with how long to wait before the next. While triggers are due or runs finish,
   * that is tickMs. An idle pass (nothing due, nothing settled) waits until the earliest next slot,
   * but at most IDLE_TICKS ticks: an idle platform then asks the database 3 times a second instead
   * of 8 (PGlite under `npm start` spends its CPU there), a slot still fires within a tick of its
   * time, and a trigger created meanwhile is noticed within the idle bound.
   */
  async #pass(): Promise<number> {
    const { tickMs } = this.#options;
    if (!this.#options.isLeader()) return tickMs;
    // Functions, aliases and versions are read once per tick, however many of their triggers fire.
    this.#lookups = new Map();
    let seen = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_TICK; batch++) {
      const now = new Date(this.#now());
      const due = await this.#scheduled.due(now, BATCH);
      seen += due.length;
      const moved = await Promise.all(
        due.map((t) =>
          this.#handle(t, now).catch((error: unknown) => {
            this.#options.log(`trigger ${t.id} (${t.function_name}): ${String(error)}`);
            return false;
          }),
        ),
      );
      if (due.length < BATCH || !this.#options.isLeader() || !moved.includes(true)) break;
    }
    await this.#options.recorder.flush();
    const settled = await this.#scheduled.settleOutcomes();
    if (seen > 0 || settled > 0) return tickMs;
    const next = await this.#scheduled.nextFireAt();
    const idleMs = IDLE_TICKS * tickMs;
    return next === null ? idleMs : Math.min(idleMs, Math.max(tickMs, next.getTime() - this.#now()));
  }

  /** Decides about one due trigger; true when its state moved (fired, skipped, queued). */
  async #handle(trigger: DueTrigger, now: Date): Promise<boolean> {
    // Only cron rows are due (the query says so); other kinds have no schedule and no cursor.
    if (trigger.schedule === null) return false;
    const inFlight = this.#inFlight(trigger, now);
    if (trigger.queued_slot && !inFlight) {
      // Overlap "queue": the previous run ended, the slot that waited for it fires now.
      const slot = trigger.queued_slot;
      return this.#fire(trigger, slot, now, trigger.next_fire_at, (invocationId) =>
        this.#scheduled.firedQueued(trigger, { scheduledAt: slot, firedAt: now, invocationId }),
      );
    }
    const slot = trigger.next_fire_at;
    // Jitter: the slot is looked at as of its offset's start, so the misfire grace is not eaten by it.
    if (!slot || slot.getTime() + trigger.jitter_offset_ms > now.getTime()) return false;
    const planned = new Date(now.getTime() - trigger.jitter_offset_ms);
    const schedule = this.#schedule(trigger.schedule, trigger.timezone);
    if (!(schedule instanceof CronSchedule)) {
      const problem = schedule;
      // A row the API would refuse (edited by hand, a zone the runtime no longer knows): it waits
      // for a PATCH, which computes a new cursor.
      return this.#scheduled.advance(trigger, {
        nextFireAt: null,
        status: "error",
        error: `${problem.field}: ${problem.message}`,
      });
    }
    const plan = planSlot({
      schedule,
      slot,
      now: planned,
      catchUp: trigger.catch_up,
      catchUpWindowMs: trigger.catch_up_window_ms,
      misfireGraceMs: this.#options.misfireGraceMs,
    });
    if (plan.kind === "skip") return this.#scheduled.advance(trigger, { nextFireAt: plan.nextFireAt });
    if (inFlight && trigger.overlap === "skip") {
      return this.#scheduled.advance(trigger, { nextFireAt: plan.nextFireAt });
    }
    if (inFlight && trigger.overlap === "queue") {
      return this.#scheduled.queueSlot(trigger, plan.scheduledAt, plan.nextFireAt);
    }
    const { scheduledAt, nextFireAt } = plan;
    return this.#fire(trigger, scheduledAt, now, nextFireAt, (invocationId) =>
      this.#scheduled.fired(trigger, { scheduledAt, firedAt: now, invocationId, nextFireAt }),
    );
  }

  /** A read shared by every trigger of this tick that needs it. */
  #once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let value = this.#lookups.get(key) as Promise<T> | undefined;
    if (!value) {
      value = load();
      this.#lookups.set(key, value);
    }
    return value;
  }

  /** Parsed schedules, kept across ticks (a thousand triggers often share a handful of schedules). */
  #schedule(expression: string, timezone: string): CronSchedule | CronProblem {
    const key = `${timezone} ${expression}`;
    let parsed = this.#schedules.get(key);
    if (!parsed) {
      if (this.#schedules.size >= MAX_CACHED_SCHEDULES) this.#schedules.clear();
      parsed = CronSchedule.problem(expression, timezone) ?? CronSchedule.parse(expression, timezone);
      this.#schedules.set(key, parsed);
    }
    return parsed;
  }

  /** The trigger's previous run is still queued or running (or its record is not written yet). */
  #inFlight(trigger: DueTrigger, now: Date): boolean {
    if (!trigger.last_invocation_id || !trigger.last_fired_at) return false;
    if (now.getTime() - trigger.last_fired_at.getTime() > IN_FLIGHT_BOUND_MS) return false;
    const status = trigger.last_run_status;
    if (status === null) return trigger.last_status === "queued" || trigger.last_status === "running";
    return status === "queued" || status === "running";
  }

  /**
   * Fires one slot and then records it with `record` (which moves the cursor or clears the queued
   * slot). A trigger that cannot fire (no version to run) gets an error state and its cursor moves.
   */
  async #fire(
    trigger: DueTrigger,
    scheduledAt: Date,
    now: Date,
    skipTo: Date | null,
    record: (invocationId: string) => Promise<boolean>,
  ): Promise<boolean> {
    const store = this.#options.platform.tenant(trigger.tenant_id);
    let version: Awaited<ReturnType<typeof targetVersion>>;
    try {
      const fn = await this.#once(`f:${trigger.function_id}`, () =>
        store.functions.byId(trigger.function_id),
      );
      if (!fn) throw new KumoError("FN_001", `function ${trigger.function_id} not found`);
      version = await targetVersion(
        {
          versions: {
            get: (functionId, n) =>
              this.#once(`v:${functionId}:${n}`, () => store.versions.get(functionId, n)),
          },
          aliases: {
            get: (functionId, name) =>
              this.#once(`a:${functionId}:${name}`, () => store.aliases.get(functionId, name)),
          },
        },
        fn,
        trigger.target,
      );
    } catch (error) {
      // Nothing to run (no deploy yet, the alias is gone): the slot passes with an error state.
      const message = error instanceof KumoError ? `${error.code}: ${error.message}` : String(error);
      return this.#scheduled.advance(trigger, {
        nextFireAt: skipTo,
        status: "error",
        error: message,
        clearQueuedSlot: trigger.queued_slot !== null,
      });
    }
    const config = version.config as FunctionConfig;
    const { request, msgId } = cronInvocation(
      {
        triggerId: trigger.id,
        scheduledAt,
        firedAt: now,
        lastScheduledAt: trigger.last_scheduled_at,
        manual: false,
      },
      config.timeoutMs,
    );
    const target = {
      tenantId: trigger.tenant_id,
      functionId: trigger.function_id,
      versionId: version.id,
      version: version.version,
    };
    // Publish first, move the cursor after: see the class comment. A failed publish leaves the
    // cursor, so the slot is tried again next tick.
    const ack = await this.#options.sender.publish(target, request, {
      msgId,
      queuedAt: now.getTime(),
      triggerId: trigger.id,
    });
    if (!ack.duplicate) {
      this.#options.recorder.record(
        queuedInvocation(target, request, now.getTime(), { triggerId: trigger.id }),
      );
    }
    return record(request.invocationId);
  }
}
