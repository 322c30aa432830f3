import { type AsyncInvocations, cronInvocation } from "@kumo/bus";
import { CronSchedule, type FunctionConfig, KumoError } from "@kumo/core";
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
const BATCH = 200;
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
      this.#running = this.tick()
        .catch((error: unknown) => this.#options.log(`scheduler tick failed: ${String(error)}`))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#options.tickMs);
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
    if (!this.#options.isLeader()) return;
    for (;;) {
      const now = new Date(this.#now());
      const due = await this.#scheduled.due(now, BATCH);
      await Promise.all(
        due.map((t) =>
          this.#handle(t, now).catch((error: unknown) =>
            this.#options.log(`trigger ${t.id} (${t.function_name}): ${String(error)}`),
          ),
        ),
      );
      if (due.length < BATCH || !this.#options.isLeader()) break;
    }
    await this.#options.recorder.flush();
    await this.#scheduled.settleOutcomes();
  }

  async #handle(trigger: DueTrigger, now: Date): Promise<void> {
    const slot = trigger.next_fire_at;
    // Only cron rows are due (the query says so); an event trigger has no schedule and no cursor.
    if (!slot || trigger.schedule === null) return;
    const problem = CronSchedule.problem(trigger.schedule, trigger.timezone);
    if (problem) {
      // A row the API would refuse (edited by hand, a zone the runtime no longer knows): it waits
      // for a PATCH, which computes a new cursor.
      await this.#scheduled.advance(trigger, {
        nextFireAt: null,
        status: "error",
        error: `${problem.field}: ${problem.message}`,
      });
      return;
    }
    const schedule = CronSchedule.parse(trigger.schedule, trigger.timezone);
    const plan = planSlot({
      schedule,
      slot,
      now,
      catchUp: trigger.catch_up,
      catchUpWindowMs: trigger.catch_up_window_ms,
      misfireGraceMs: this.#options.misfireGraceMs,
    });
    if (plan.kind === "skip") {
      await this.#scheduled.advance(trigger, { nextFireAt: plan.nextFireAt });
      return;
    }
    if (trigger.overlap === "skip" && this.#inFlight(trigger, now)) {
      await this.#scheduled.advance(trigger, { nextFireAt: plan.nextFireAt });
      return;
    }
    await this.#fire(trigger, plan.scheduledAt, plan.nextFireAt, now);
  }

  /** The trigger's previous run is still queued or running (or its record is not written yet). */
  #inFlight(trigger: DueTrigger, now: Date): boolean {
    if (!trigger.last_invocation_id || !trigger.last_fired_at) return false;
    if (now.getTime() - trigger.last_fired_at.getTime() > IN_FLIGHT_BOUND_MS) return false;
    const status = trigger.last_run_status;
    if (status === null) return trigger.last_status === "queued" || trigger.last_status === "running";
    return status === "queued" || status === "running";
  }

  async #fire(trigger: DueTrigger, scheduledAt: Date, nextFireAt: Date | null, now: Date): Promise<void> {
    const store = this.#options.platform.tenant(trigger.tenant_id);
    let version: Awaited<ReturnType<typeof targetVersion>>;
    try {
      const fn = await store.functions.byId(trigger.function_id);
      if (!fn) throw new KumoError("FN_001", `function ${trigger.function_id} not found`);
      version = await targetVersion(store, fn, trigger.target);
    } catch (error) {
      // Nothing to run (no deploy yet, the alias is gone): the slot passes with an error state.
      const message = error instanceof KumoError ? `${error.code}: ${error.message}` : String(error);
      await this.#scheduled.advance(trigger, { nextFireAt, status: "error", error: message });
      return;
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
    await this.#scheduled.fired(trigger, {
      scheduledAt,
      firedAt: now,
      invocationId: request.invocationId,
      nextFireAt,
    });
  }
}
