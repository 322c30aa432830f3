import type { AsyncInvocations, TenantQueues } from "@kumo/bus";
import { KumoError, type SecretBox } from "@kumo/core";
import {
  openTenantSecret,
  type PlatformStore,
  type QueueTriggerRow,
  type QueueTriggers,
  type Recorder,
} from "@kumo/db";
import { JetStreamQueueSource } from "./jetstream-queue-source.ts";
import type { QueueSource } from "./queue-source.ts";
import { QueueTriggerRunner } from "./queue-trigger-runner.ts";
import { RabbitMqQueueSource } from "./rabbitmq-queue-source.ts";

export interface QueueTriggerManagerOptions {
  platform: PlatformStore;
  store: QueueTriggers;
  queues: TenantQueues;
  sender: AsyncInvocations;
  recorder: Recorder;
  secretBox: SecretBox | undefined;
  /** Whether this process may consume now (it holds the leader lease). */
  isLeader: () => boolean;
  /** How often the set of queue triggers is read from the database. */
  reconcileMs: number;
  /** How often consumer lag is written into the triggers' state. */
  reportMs: number;
  /** JetStream's ack wait for queue messages: how soon a crashed leader's batch comes back. */
  ackWaitMs: number;
  retryBaseMs: number;
  log: (line: string) => void;
}

interface Running {
  runner: QueueTriggerRunner;
  /** What the runner was started with; a change restarts it. */
  config: string;
  tenantId: string;
}

/** Reconciles between deletes of durable consumers whose trigger is gone. */
const CLEANUP_EVERY = 10;

/**
 * The leader's queue consumers: every second the queue triggers are read from the database and one
 * runner per unpaused trigger is started, restarted when its settings or target change, and
 * stopped when it is paused or deleted (a deleted trigger's durable consumer is deleted too; a
 * paused one keeps it, so its messages wait). A follower runs none. Each runner fails on its own:
 * a broken broker is that trigger's error state, never the others'.
 */
export class QueueTriggerManager {
  readonly #options: QueueTriggerManagerOptions;
  readonly #running = new Map<string, Running>();
  readonly #stopping = new Map<string, Promise<void>>();
  readonly #lags = new Map<string, { lag: number; tenantId: string }>();
  #timer: NodeJS.Timeout | undefined;
  #reportTimer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #passes = 0;
  #stopped = false;

  constructor(options: QueueTriggerManagerOptions) {
    this.#options = options;
  }

  start(): void {
    const loop = () => {
      if (this.#stopped) return;
      this.#pass = this.reconcile()
        .catch((error: unknown) => this.#options.log(`queue triggers: ${String(error)}`))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#options.reconcileMs);
        });
    };
    loop();
    this.#reportTimer = setInterval(() => {
      void this.report().catch((error: unknown) =>
        this.#options.log(`queue trigger lag report failed: ${String(error)}`),
      );
    }, this.#options.reportMs);
    this.#reportTimer.unref();
  }

  /** Stops every runner without settling more (their messages come back to the next leader). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#reportTimer);
    await this.#pass;
    await Promise.all([...this.#running.keys()].map((id) => this.#stopRunner(id, "abandon")));
    await Promise.all(this.#stopping.values());
  }

  /** Lag per trigger, as last reported (for the Prometheus gauge). */
  lags(): ReadonlyMap<string, { lag: number; tenantId: string }> {
    return this.#lags;
  }

  /** One pass: start, restart and stop runners to match the database. Exposed for tests. */
  async reconcile(): Promise<void> {
    if (!this.#options.isLeader()) {
      await Promise.all([...this.#running.keys()].map((id) => this.#stopRunner(id, "drain")));
      return;
    }
    const rows = await this.#options.store.all();
    const wanted = new Map(rows.filter((r) => !r.paused).map((r) => [r.id, r]));
    const existing = new Set(rows.map((r) => r.id));
    let removed = false;
    for (const [id, running] of this.#running) {
      const row = wanted.get(id);
      if (!row) {
        removed ||= !existing.has(id);
        void this.#stopRunner(id, existing.has(id) ? "drain" : "abandon");
      } else if (running.config !== configOf(row)) {
        void this.#stopRunner(id, "drain");
      }
    }
    for (const [id, row] of wanted) {
      if (this.#running.has(id) || this.#stopping.has(id)) continue;
      this.#startRunner(row);
    }
    if (this.#passes++ % CLEANUP_EVERY === 0 || removed) await this.#removeOrphanConsumers(existing);
  }

  /** Writes each runner's lag into its trigger's state. Exposed for tests. */
  async report(): Promise<void> {
    for (const [id, running] of this.#running) {
      const lag = await running.runner.lag();
      if (lag === null) continue;
      this.#lags.set(id, { lag, tenantId: running.tenantId });
      await this.#options.store.report(id, { lag });
    }
    for (const id of this.#lags.keys()) if (!this.#running.has(id)) this.#lags.delete(id);
  }

  #startRunner(row: QueueTriggerRow): void {
    const o = this.#options;
    const runner = new QueueTriggerRunner({
      trigger: row,
      source: () => this.#source(row),
      platform: o.platform,
      store: o.store,
      queues: o.queues,
      sender: o.sender,
      recorder: o.recorder,
      keepAliveMs: Math.max(500, Math.floor(o.ackWaitMs / 3)),
      retryBaseMs: o.retryBaseMs,
      outcomePollMs: 100,
      // A killed leader's messages come back at most an ack wait after its last keep-alive.
      recoverWaitMs: o.ackWaitMs + 5000,
      log: o.log,
    });
    this.#running.set(row.id, { runner, config: configOf(row), tenantId: row.tenant_id });
    runner.start();
  }

  #stopRunner(id: string, mode: "drain" | "abandon"): Promise<void> {
    const running = this.#running.get(id);
    if (!running) return this.#stopping.get(id) ?? Promise.resolve();
    this.#running.delete(id);
    const stopped = running.runner
      .stop(mode)
      .catch(() => undefined)
      .finally(() => this.#stopping.delete(id));
    this.#stopping.set(id, stopped);
    return stopped;
  }

  /** The trigger's source: its tenant queue in Kumo, or its queue on the tenant's RabbitMQ. */
  async #source(row: QueueTriggerRow): Promise<QueueSource> {
    const settings = row.settings;
    const pollMs = Math.min(5000, this.#options.reconcileMs * 2);
    if (!settings.broker) {
      return new JetStreamQueueSource({
        queues: this.#options.queues,
        triggerId: row.id,
        tenantId: row.tenant_id,
        queue: settings.queue,
        ackWaitMs: this.#options.ackWaitMs,
        pollMs,
      });
    }
    const secret = settings.broker.urlSecret;
    const url = await openTenantSecret(
      this.#options.platform.tenant(row.tenant_id),
      secret,
      this.#options.secretBox,
    );
    if (!isAmqpUrl(url)) {
      // The value is never echoed: it may hold a password.
      throw new KumoError("FN_006", `the secret ${secret} is not an amqp:// or amqps:// URL`);
    }
    return new RabbitMqQueueSource({ url, queue: settings.queue, prefetch: settings.batchSize, pollMs });
  }

  /** Deletes durable consumers of triggers that no longer exist (deleted, or their function). */
  async #removeOrphanConsumers(existing: ReadonlySet<string>): Promise<void> {
    for (const id of await this.#options.queues.consumerTriggerIds()) {
      if (existing.has(id) || this.#running.has(id)) continue;
      await this.#stopping.get(id);
      await this.#options.queues.deleteConsumer(id);
      this.#options.log(`deleted the queue consumer of removed trigger ${id}`);
    }
  }
}

/** What a runner depends on: a change to any of it restarts the runner. */
function configOf(row: QueueTriggerRow): string {
  return JSON.stringify([row.function_id, row.target, row.settings]);
}

function isAmqpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "amqp:" || url.protocol === "amqps:";
  } catch {
    return false;
  }
}
