import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { AsyncInvocations, connectBus, type NatsConnection, TenantQueues } from "@kumo/bus";
import { Periodic, serveHealth, serviceSecretBox } from "@kumo/core";
import { type DatabaseHandle, openServiceDatabase, purgeEvents, Recorder } from "@kumo/db";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { AlertNotifier } from "./alert-notifier.ts";
import { AlertRules } from "./alert-rules.ts";
import { AlertWebhooks } from "./alert-webhooks.ts";
import type { SchedulerConfig } from "./config.ts";
import { CronLoop, IDLE_TICKS } from "./cron-loop.ts";
import { DatabaseTriggers } from "./database-triggers/database-triggers.ts";
import { LeaderLease } from "./leader-lease.ts";
import { QueueTriggerManager } from "./queue-triggers/queue-trigger-manager.ts";

export { loadSchedulerConfig, type SchedulerConfig } from "./config.ts";

export interface SchedulerDeps {
  nats?: NatsConnection;
  /** An open database (the all-in-one launcher shares its own); else opened from DATABASE_URL / the data dir. */
  database?: DatabaseHandle;
  /** Injectable clock (epoch ms) for tests. */
  now?: () => number;
  /** Host name to addresses for alert webhooks (tests); the system resolver otherwise. */
  resolve?: (hostname: string) => Promise<string[]>;
  log?: (line: string) => void;
}

export interface Scheduler {
  url: string;
  /** Whether this process holds the leader lease and fires triggers. */
  isLeader(): boolean;
  /** Stops firing and releases the lease so another scheduler takes over at once. */
  stop(): Promise<void>;
}

/**
 * The trigger service: cron triggers fired through the async invocation path. Every scheduler
 * process competes for one leader lease (NATS KV); only the leader fires. Queue, database and
 * event triggers are later slices of the triggers issue.
 */
export async function start(config: SchedulerConfig, deps: SchedulerDeps = {}): Promise<Scheduler> {
  const log = deps.log ?? ((line: string) => console.error(`[scheduler] ${line}`));
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  const unwind = async () => {
    for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined);
  };
  try {
    const nc = deps.nats ?? (await connectBus({ url: config.natsUrl, name: "kumo-scheduler" }));
    if (!deps.nats) cleanup.push(() => nc.drain());
    const { database, platform, namespace, close } = await openServiceDatabase(config, deps.database);
    cleanup.push(close);
    const recorder = new Recorder({
      db: database.db,
      flushMs: config.recordFlushMs,
      onError: (error) => log(`recording invocations failed: ${String(error)}`),
    });
    cleanup.push(() => recorder.drain());
    const sender = new AsyncInvocations({ nc, namespace });
    await sender.start();
    cleanup.push(() => sender.stop());
    const lease = new LeaderLease({
      nc,
      namespace,
      holder: `${hostname()}/${process.pid}/${randomBytes(3).toString("hex")}`,
      ttlMs: config.leaseTtlMs,
      log,
    });
    await lease.start();
    cleanup.push(() => lease.stop());
    const loop = new CronLoop({
      platform,
      sender,
      recorder,
      isLeader: () => lease.isLeader(),
      tickMs: config.tickMs,
      misfireGraceMs: config.misfireGraceMs,
      ...(deps.now ? { now: deps.now } : {}),
      log,
    });
    loop.start();
    cleanup.push(() => loop.stop());
    const secretBox = serviceSecretBox(config.masterKey, config.dataDir);
    const webhooks = new AlertWebhooks({
      platform,
      secretBox,
      allowPrivate: config.alertsAllowPrivate,
      ...(deps.resolve ? { resolve: deps.resolve } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    });
    cleanup.push(() => webhooks.abort());
    const alerts = new AlertNotifier({ platform, webhooks, ...(deps.now ? { now: deps.now } : {}), log });
    const alertRules = new AlertRules({
      platform,
      webhooks,
      everyMs: config.alertRulesEveryMs,
      ...(deps.now ? { now: deps.now } : {}),
      log,
    });
    // The leader's housekeeping beside the cron tick: alert webhooks may take seconds, so they
    // never delay a firing.
    const leaderPass = (what: string, everyMs: number, pass: () => Promise<unknown>) => {
      const task = new Periodic({
        everyMs,
        immediately: true,
        pass: () => (lease.isLeader() ? pass() : undefined),
        onError: (error) => log(`${what} pass failed: ${String(error)}`),
      }).start();
      cleanup.push(() => task.stop());
    };
    leaderPass("alert rules", Math.min(config.alertRulesEveryMs, 1000), () => alertRules.pass());
    // Trigger failure alerts follow the outcomes the cron loop settles; at its idle pace.
    leaderPass("alerts", IDLE_TICKS * config.tickMs, () => alerts.pass());
    leaderPass("events retention", config.eventsPurgeIntervalMs, () =>
      purgeEvents(database.db, {
        retentionMs: config.eventsRetentionMs,
        ...(deps.now ? { now: deps.now() } : {}),
      }),
    );
    const databaseTriggers = new DatabaseTriggers({
      platform,
      sender,
      recorder,
      secretBox,
      isLeader: () => lease.isLeader(),
      reconcileMs: config.databaseTriggerReconcileMs,
      retryBaseMs: config.databaseTriggerRetryBaseMs,
      retryMaxMs: config.databaseTriggerRetryMaxMs,
      log,
    });
    databaseTriggers.start();
    cleanup.push(() => databaseTriggers.stop());
    const queues = new TenantQueues({ nc, namespace });
    await queues.start();
    cleanup.push(() => queues.stop());
    const queueTriggers = new QueueTriggerManager({
      platform,
      store: platform.queueTriggers(),
      queues,
      sender,
      recorder,
      secretBox,
      isLeader: () => lease.isLeader(),
      reconcileMs: config.queueTriggerReconcileMs,
      reportMs: 3000,
      ackWaitMs: config.queueAckWaitMs,
      retryBaseMs: config.queueRetryBaseMs,
      log,
    });
    queueTriggers.start();
    cleanup.push(() => queueTriggers.stop());

    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: "kumo_scheduler_" });
    new Gauge({
      name: "kumo_scheduler_leader",
      help: "1 while this scheduler holds the leader lease and fires triggers",
      registers: [registry],
      collect() {
        this.set(lease.isLeader() ? 1 : 0);
      },
    });
    new Gauge({
      name: "kumo_scheduler_queue_lag",
      help: "Messages a queue trigger has not finished (waiting, or in a batch that is running)",
      labelNames: ["trigger_id", "tenant_id"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [id, { lag, tenantId }] of queueTriggers.lags()) {
          this.set({ trigger_id: id, tenant_id: tenantId }, lag);
        }
      },
    });
    const health = await serveHealth({
      host: config.host,
      port: config.port,
      checks: async () => ({ nats: !nc.isClosed() }),
      metrics: registry,
    });
    cleanup.push(() => health.close());
    return {
      url: health.url,
      isLeader: () => lease.isLeader(),
      async stop() {
        await unwind();
      },
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}
