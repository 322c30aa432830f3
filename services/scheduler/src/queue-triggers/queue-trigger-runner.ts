import { type AsyncInvocations, queueInvocation, type TenantQueues } from "@kumo/bus";
import { type FunctionConfig, KumoError } from "@kumo/core";
import {
  type BatchOutcome,
  type InflightBatch,
  type PlatformStore,
  type QueueTriggerRow,
  type QueueTriggers,
  queuedInvocation,
  type Recorder,
  targetVersion,
} from "@kumo/db";
import { batchItemFailures } from "./batch-failures.ts";
import type { QueueSource, SourceMessage } from "./queue-source.ts";

export interface QueueTriggerRunnerOptions {
  trigger: QueueTriggerRow;
  /** Builds the trigger's source (may fail: a missing secret, a bad URL). */
  source: () => Promise<QueueSource>;
  platform: PlatformStore;
  store: QueueTriggers;
  queues: TenantQueues;
  sender: AsyncInvocations;
  recorder: Recorder;
  /** How often unacked messages of a running batch are kept alive (a third of the ack wait). */
  keepAliveMs: number;
  /** First retry delay of a failed message (doubling per failure, at most a minute). */
  retryBaseMs: number;
  /** How often, at most, the outcome of a running batch is looked up (sooner at first). */
  outcomePollMs: number;
  /**
   * How long a new leader waits for the messages of the batch its predecessor left in flight to
   * come back (they return after the ack wait) before it settles what came back without them.
   */
  recoverWaitMs: number;
  log: (line: string) => void;
}

export type RunnerState = "starting" | "consuming" | "error" | "stopping" | "stopped";

/** The version a batch runs, as the async path and its record name it. */
interface BatchTarget {
  tenantId: string;
  functionId: string;
  versionId: string;
  version: number;
  timeoutMs: number;
}

/** A message of the runner's, with the failures the dead-letter decision counts. */
type Held = SourceMessage & { failures?: number };

const MAX_RETRY_DELAY_MS = 60_000;
const MAX_ERROR_BACKOFF_MS = 60_000;
/** A batch whose invocation has no final record after this long is treated as failed. */
const OUTCOME_BOUND_MS = 24 * 3_600_000;
/** The first look for a batch's outcome; later looks double up to `outcomePollMs`. */
const FIRST_OUTCOME_POLL_MS = 5;
/**
 * Messages set aside at most while a new leader waits for its predecessor's batch to come back:
 * with a whole batch (at most 10,000) in flight, it stays under the consumer's 20,000 unacked.
 */
const ASIDE_MAX = 5000;

/**
 * One queue trigger's consumer: collect a batch (up to batchSize, waiting up to batchWindow), fire
 * one async invocation for it, keep its messages unacked until the invocation's record is final,
 * then ack what succeeded and retry (or dead-letter, past maxDeliveries) what failed.
 *
 * Crash safety: the batch is written to the trigger's `source_state.inflight` before it is
 * published, and its dedupe id comes from its messages and round. Messages are acked only after
 * the outcome. A scheduler killed at any point leaves them unacked; they come back after the ack
 * wait to the next leader, which settles that batch before anything else (see `#recover`): it
 * republishes it under the same id (the stream drops it, or its record shows it ran) and settles
 * it by that run's outcome, so a batch whose outcome was known never runs again.
 *
 * Ordered triggers: one batch at a time (every trigger is), and a failed message is held in
 * memory with every later message of its key, at the head of the next batch, so a key's messages
 * reach the function in publish order; unordered triggers nak failed messages with a backoff.
 */
export class QueueTriggerRunner {
  readonly #options: QueueTriggerRunnerOptions;
  readonly #trigger: QueueTriggerRow;
  #state: RunnerState = "starting";
  #abandon = false;
  #source: QueueSource | undefined;
  #held: Held[] = [];
  /** Messages collected while recovering a predecessor's batch: they run next, in order. */
  #aside: Held[] = [];
  #wake: (() => void) | undefined;
  #done: Promise<void> | undefined;

  constructor(options: QueueTriggerRunnerOptions) {
    this.#options = options;
    this.#trigger = options.trigger;
  }

  get state(): RunnerState {
    return this.#state;
  }

  start(): void {
    this.#done = this.#run().catch((error: unknown) =>
      this.#options.log(`queue trigger ${this.#trigger.id} stopped on an error: ${String(error)}`),
    );
  }

  /**
   * Stops consuming. "drain": the batch in flight is settled first (a pause, a changed trigger, a
   * lost lead); "abandon": nothing more is acked (the trigger is gone, the scheduler stops); its
   * messages come back after the ack wait.
   */
  async stop(mode: "drain" | "abandon"): Promise<void> {
    if (mode === "abandon") this.#abandon = true;
    if (this.#state !== "stopped") this.#state = "stopping";
    this.#wake?.();
    await this.#done;
  }

  /** Messages waiting for the trigger, as its source counts them. */
  async lag(): Promise<number | null> {
    return (await this.#source?.lag().catch(() => null)) ?? null;
  }

  get #stopping(): boolean {
    return this.#state === "stopping" || this.#state === "stopped";
  }

  async #run(): Promise<void> {
    let backoff = 1000;
    while (!this.#stopping) {
      let source: QueueSource | undefined;
      try {
        source = await this.#options.source();
        await source.open();
        this.#source = source;
        await this.#options.store.recovered(this.#trigger.id);
        this.#state = "consuming";
        backoff = 1000;
        await this.#consume(source);
        if (source.broken && !this.#stopping) throw source.broken;
      } catch (error) {
        if (this.#stopping) break;
        const message = error instanceof KumoError ? `${error.code}: ${error.message}` : errorText(error);
        this.#state = "error";
        this.#options.log(`queue trigger ${this.#trigger.id}: ${message}`);
        await this.#options.store.failed(this.#trigger.id, message).catch(() => undefined);
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_ERROR_BACKOFF_MS);
      } finally {
        this.#source = undefined;
        if (source) await this.#release(source);
      }
    }
    this.#state = "stopped";
  }

  /** Hands back what the runner holds (a drained or broken runner) and closes the source. */
  async #release(source: QueueSource): Promise<void> {
    if (!this.#abandon) {
      for (const m of [...this.#held, ...this.#aside]) await source.retry(m, 0).catch(() => undefined);
    }
    this.#held = [];
    this.#aside = [];
    await source.close().catch(() => undefined);
  }

  async #consume(source: QueueSource): Promise<void> {
    const settings = this.#trigger.settings;
    const inflight = this.#trigger.source_state?.inflight as InflightBatch | null | undefined;
    if (inflight) await this.#recover(source, inflight);
    while (!this.#stopping && !source.broken) {
      const target = await this.#target();
      if (!target) {
        await this.#sleep(5000);
        continue;
      }
      if (this.#held.length > 0) {
        const failures = Math.max(...this.#held.map((m) => m.failures ?? 0));
        await this.#sleep(this.#retryDelay(failures));
        if (this.#stopping) break;
      }
      const carried = this.#aside.splice(0, Math.max(0, settings.batchSize - this.#held.length));
      const room = settings.batchSize - this.#held.length - carried.length;
      const waiting = this.#held.length + carried.length > 0;
      const fresh = room > 0 ? await source.collect(room, waiting ? 0 : settings.batchWindowMs) : [];
      if (this.#stopping) {
        if (!this.#abandon) for (const m of [...carried, ...fresh]) await source.retry(m, 0);
        break;
      }
      const ready: Held[] = [...this.#held];
      this.#held = [];
      for (const m of [...carried, ...fresh]) {
        if (m.deliveries > settings.maxDeliveries) {
          await this.#deadLetter(source, m, `delivered ${m.deliveries - 1} times without success`);
        } else {
          ready.push(m);
        }
      }
      if (ready.length === 0) continue;
      await this.#runBatch(source, ready, target);
    }
  }

  /**
   * Settles the batch a previous leader left in flight, before anything else runs. Its messages
   * come back after the ack wait, often after messages that leader never saw: those are set aside
   * (kept alive, run next) until every message of the batch is back. The whole batch is then
   * published again under its dedupe id, so it never runs twice: the stream drops the copy, or
   * its record shows that it ran, and it is settled by that run's outcome. When not all of it
   * comes back in time (a leader killed while acking it), what came back is settled by the
   * recorded outcome; with no record, nothing of it ran and it runs as a new batch.
   */
  async #recover(source: QueueSource, inflight: InflightBatch): Promise<void> {
    const wanted = inflight.refs.map(String);
    const wantedSet = new Set(wanted);
    const back = new Map<string, Held>();
    const deadline = Date.now() + this.#options.recoverWaitMs;
    while (back.size < wanted.length && Date.now() < deadline && this.#aside.length < ASIDE_MAX) {
      if (this.#stopping || source.broken) {
        this.#aside.unshift(...back.values());
        return;
      }
      const got = await source.collect(wanted.length - back.size, 0);
      for (const m of got) {
        if (wantedSet.has(String(m.ref)) && !back.has(String(m.ref))) back.set(String(m.ref), m);
        else this.#aside.push(m);
      }
      source.keepAlive([...back.values(), ...this.#aside]);
    }
    const returned = wanted.flatMap((ref) => back.get(ref) ?? []);
    if (returned.length === 0) return;
    if (returned.length === wanted.length) {
      let target = await this.#target();
      while (!target && !this.#stopping) {
        await this.#sleep(5000);
        target = await this.#target();
      }
      if (target) await this.#runBatch(source, returned, target, inflight);
      else this.#aside.unshift(...returned);
      return;
    }
    const { store } = this.#options;
    if (await store.exists(this.#trigger.tenant_id, inflight.invocationId)) {
      const outcome = await this.#outcome(inflight.invocationId);
      if (!outcome) return;
      await this.#settle(source, returned, outcome);
      await store.report(this.#trigger.id, { inflight: null });
      return;
    }
    this.#aside.unshift(...returned);
  }

  /** The version the trigger invokes now; undefined (and an error state) when there is none. */
  async #target(): Promise<BatchTarget | undefined> {
    const t = this.#trigger;
    const store = this.#options.platform.tenant(t.tenant_id);
    try {
      const fn = await store.functions.byId(t.function_id);
      if (!fn) throw new KumoError("FN_001", `function ${t.function_id} not found`);
      const version = await targetVersion(store, fn, t.target);
      return {
        tenantId: t.tenant_id,
        functionId: t.function_id,
        versionId: version.id,
        version: version.version,
        timeoutMs: (version.config as FunctionConfig).timeoutMs,
      };
    } catch (error) {
      const message = error instanceof KumoError ? `${error.code}: ${error.message}` : errorText(error);
      await this.#options.store.failed(t.id, message);
      return undefined;
    }
  }

  async #runBatch(
    source: QueueSource,
    batch: Held[],
    target: BatchTarget,
    resume?: InflightBatch,
  ): Promise<void> {
    const t = this.#trigger;
    const { store } = this.#options;
    const refs = batch.map((m) => m.ref);
    const resumed = resume && sameRefs(resume.refs, refs) ? resume : undefined;
    const round = resumed?.round ?? Math.max(...batch.map((m) => m.deliveries));
    const { request, msgId } = queueInvocation(
      {
        triggerId: t.id,
        queue: t.settings.queue,
        refs,
        round,
        messages: batch.map((m) => ({
          id: m.id,
          key: m.key,
          data: m.data,
          publishedAt: m.publishedAt,
          deliveries: m.deliveries,
        })),
      },
      target.timeoutMs,
    );
    const keepAlive = setInterval(
      () => source.keepAlive(this.#aside.length > 0 ? [...batch, ...this.#aside] : batch),
      this.#options.keepAliveMs,
    );
    try {
      const now = new Date();
      // Written before the publish: a scheduler that takes over finds it and publishes the same id.
      await store.begin(t.id, { invocationId: request.invocationId, msgId, refs, round }, now);
      const ran = resumed ? await store.exists(t.tenant_id, request.invocationId) : false;
      if (!ran) {
        const ack = await this.#options.sender.publish(target, request, {
          msgId,
          queuedAt: now.getTime(),
          triggerId: t.id,
        });
        if (!ack.duplicate) {
          this.#options.recorder.record(
            queuedInvocation(target, request, now.getTime(), { triggerId: t.id }),
          );
        }
      }
      const outcome = await this.#outcome(request.invocationId);
      if (!outcome) return;
      await this.#settle(source, batch, outcome);
      await store.report(t.id, { inflight: null });
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** Waits for the invocation's final record; undefined when the runner is abandoned first. */
  async #outcome(invocationId: string): Promise<BatchOutcome | undefined> {
    const since = Date.now();
    // Most batches end within milliseconds, and the trigger's next batch waits for this one: look
    // soon, then less often (a fixed 100 ms poll capped a trigger at ~10 batches a second).
    let delay = FIRST_OUTCOME_POLL_MS;
    for (;;) {
      if (this.#abandon) return undefined;
      await this.#options.recorder.flush();
      const outcome = await this.#options.store.outcome(this.#trigger.tenant_id, invocationId);
      if (outcome) return outcome;
      if (Date.now() - since > OUTCOME_BOUND_MS) {
        return {
          status: "failed",
          result: null,
          errorCode: "FN_002",
          errorMessage: "the batch's invocation did not finish within 24 hours",
        };
      }
      await this.#sleep(delay, true);
      delay = Math.min(this.#options.outcomePollMs, delay * 2);
    }
  }

  async #settle(source: QueueSource, batch: Held[], outcome: BatchOutcome): Promise<void> {
    const settings = this.#trigger.settings;
    let failed: Set<string>;
    let reason: string;
    if (outcome.status === "succeeded") {
      const answer = batchItemFailures(
        outcome.result,
        batch.map((m) => m.id),
      );
      failed = "all" in answer ? new Set(batch.map((m) => m.id)) : answer.failed;
      reason = "all" in answer ? answer.reason : "the function reported it in batchItemFailures";
    } else {
      failed = new Set(batch.map((m) => m.id));
      reason = `the batch's invocation failed: ${outcome.errorCode ?? "FN_004"}: ${outcome.errorMessage ?? "error"}`;
    }
    const blockedKeys = new Set<string>();
    for (const m of batch) {
      if (failed.has(m.id)) {
        const failures = (m.failures ?? m.deliveries - 1) + 1;
        if (failures >= settings.maxDeliveries) {
          await this.#deadLetter(source, m, reason);
          continue;
        }
        if (settings.ordered) {
          this.#hold(m, failures);
          if (m.key !== null) blockedKeys.add(m.key);
        } else {
          await source.retry(m, this.#retryDelay(failures));
        }
      } else if (settings.ordered && m.key !== null && blockedKeys.has(m.key)) {
        // Held back behind an earlier failed message of its key: it runs again after that one.
        this.#hold(m, m.failures ?? m.deliveries - 1);
      } else {
        await source.ack(m);
      }
    }
  }

  #hold(m: Held, failures: number): void {
    m.failures = failures;
    m.deliveries += 1;
    this.#held.push(m);
  }

  async #deadLetter(source: QueueSource, m: SourceMessage, reason: string): Promise<void> {
    const t = this.#trigger;
    await this.#options.queues.deadLetter(t.tenant_id, t.settings.queue, {
      id: m.id,
      key: m.key,
      data: m.data,
      publishedAt: m.publishedAt ?? "",
      triggerId: t.id,
      functionId: t.function_id,
      deliveries: m.deliveries,
      reason,
      deadAt: new Date().toISOString(),
      ...(t.settings.broker ? { broker: t.settings.broker.kind } : {}),
    });
    await source.ack(m);
  }

  #retryDelay(failures: number): number {
    return Math.min(MAX_RETRY_DELAY_MS, this.#options.retryBaseMs * 2 ** Math.max(0, failures - 1));
  }

  /** Sleeps, woken early by a stop (or, with `onlyAbandon`, only by an abandoning stop). */
  #sleep(ms: number, onlyAbandon = false): Promise<void> {
    if (onlyAbandon ? this.#abandon : this.#stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        if (onlyAbandon && !this.#abandon) return;
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}

function sameRefs(a: readonly (string | number)[], b: readonly (string | number)[]): boolean {
  return a.length === b.length && a.every((r, i) => String(r) === String(b[i]));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
