import type { PlatformStore, RolloutRow } from "@kumo/db";
import { decideRollout, stepRouting } from "./rollout-decision.ts";

export interface RolloutDriverOptions {
  platform: PlatformStore;
  /** How often to look for due steps. */
  tickMs: number;
  /** Writes this gateway's buffered invocation records, so the error rate sees them. */
  flushRecords: () => Promise<void>;
  /** Announces an alias change so every gateway's routing cache drops it. */
  changed: (tenantId: string, functionId: string) => void;
  onError: (error: unknown) => void;
  /** How long a claim keeps other drivers away from a rollout; default 30 s. */
  leaseMs?: number;
  /** Rollouts handled per tick; default 20. */
  batch?: number;
}

export type RolloutDriverState = "idle" | "running" | "stopping" | "stopped";

/**
 * Moves gradual rollouts forward. Every gateway runs one; they share the work through the database:
 * a due rollout is claimed atomically (its next_step_at pushed past a lease) before it is judged,
 * so no two drivers handle the same step. Records of other gateways land within their flush
 * interval; the few that miss a step's window are counted in the next one.
 */
export class RolloutDriver {
  readonly #options: RolloutDriverOptions;
  #state: RolloutDriverState = "idle";
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<unknown> = Promise.resolve();

  constructor(options: RolloutDriverOptions) {
    this.#options = options;
  }

  get state(): RolloutDriverState {
    return this.#state;
  }

  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#schedule();
  }

  /** Stops ticking and waits for a tick in progress to finish. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopping";
    clearTimeout(this.#timer);
    await this.#ticking.catch(() => {});
    this.#state = "stopped";
  }

  /** Handles every due rollout once; returns how many it handled. */
  async tick(): Promise<number> {
    const { platform, leaseMs = 30_000, batch = 20 } = this.#options;
    const due = await platform.claimDueRollouts(batch, leaseMs);
    if (due.length === 0) return 0;
    await this.#options.flushRecords();
    for (const rollout of due) {
      try {
        await this.#step(rollout);
      } catch (error) {
        this.#options.onError(error);
      }
    }
    return due.length;
  }

  #schedule(): void {
    if (this.#state !== "running") return;
    this.#timer = setTimeout(() => {
      this.#ticking = this.tick()
        .catch(this.#options.onError)
        .finally(() => this.#schedule());
    }, this.#options.tickMs);
    this.#timer.unref();
  }

  async #step(rollout: RolloutRow): Promise<void> {
    const store = this.#options.platform.tenant(rollout.tenant_id);
    const outcomes = await store.invocations.outcomes(
      rollout.function_id,
      rollout.to_version,
      rollout.step_started_at,
    );
    const decision = decideRollout(rollout, outcomes);
    const now = new Date();
    const actor = `rollout/${rollout.id}`;
    if (decision.kind === "wait") {
      await store.rollouts.transition(rollout.id, {
        next_step_at: new Date(now.getTime() + Math.min(this.#options.tickMs, rollout.interval_ms)),
        last_total: decision.total,
      });
      return;
    }
    const fn = await store.functions.byId(rollout.function_id);
    const target = `function/${fn?.name ?? rollout.function_id}@${rollout.alias}`;
    const changed = await store.transaction(async (tx) => {
      if (decision.kind === "rollback") {
        const done = await tx.rollouts.transition(rollout.id, {
          status: "rolled_back",
          last_error_rate: decision.errorRate,
          last_total: decision.total,
          reason: `error rate ${formatRate(decision.errorRate)} of ${decision.total} requests to version ${rollout.to_version} exceeded ${formatRate(rollout.max_error_rate)}`,
          finished_at: now,
        });
        if (!done) return false;
        await tx.aliases.put(
          rollout.function_id,
          rollout.alias,
          stepRouting(rollout.from_version, rollout.to_version, 0),
          actor,
        );
        await tx.audit.record(actor, "rollout.rollback", target, {
          rollout: rollout.id,
          from: rollout.from_version,
          to: rollout.to_version,
          errorRate: decision.errorRate,
          failed: decision.failed,
          total: decision.total,
          maxErrorRate: rollout.max_error_rate,
        });
        return true;
      }
      const done = await tx.rollouts.transition(rollout.id, {
        step_index: decision.stepIndex,
        last_error_rate: decision.errorRate,
        last_total: outcomes.total,
        step_started_at: now,
        next_step_at: new Date(now.getTime() + rollout.interval_ms),
        ...(decision.completed ? { status: "completed" as const, finished_at: now } : {}),
      });
      if (!done) return false;
      await tx.aliases.put(
        rollout.function_id,
        rollout.alias,
        stepRouting(rollout.from_version, rollout.to_version, decision.weight),
        actor,
      );
      await tx.audit.record(actor, decision.completed ? "rollout.complete" : "rollout.step", target, {
        rollout: rollout.id,
        weight: decision.weight,
        errorRate: decision.errorRate,
        total: outcomes.total,
      });
      return true;
    });
    if (changed) this.#options.changed(rollout.tenant_id, rollout.function_id);
  }
}

function formatRate(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}
