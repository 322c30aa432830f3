import { booleanFlag, durationMs, parseOrThrow, portEnv, sharedEnv } from "@kumo/core";
import { z } from "zod";

export const schedulerConfigSchema = z.object({
  KUMO_HOST: sharedEnv.KUMO_HOST,
  KUMO_SCHEDULER_PORT: portEnv(8083),
  NATS_URL: sharedEnv.NATS_URL,
  KUMO_BUS_NAMESPACE: sharedEnv.KUMO_BUS_NAMESPACE,
  KUMO_DATA_DIR: sharedEnv.KUMO_DATA_DIR,
  DATABASE_URL: sharedEnv.DATABASE_URL,
  KUMO_DATABASE_SCHEMA: sharedEnv.KUMO_DATABASE_SCHEMA,
  /**
   * How often the leader looks for due slots while slots are due or runs finish; idle, it waits for
   * the next slot, at most 4 ticks (a trigger created meanwhile is seen within that).
   */
  KUMO_SCHEDULER_TICK: durationMs.pipe(z.number().int().min(10).max(10_000)).default(250),
  /** The leader lease's lifetime: a survivor takes over at most this long after the leader died. */
  KUMO_SCHEDULER_LEASE_TTL: durationMs.pipe(z.number().int().min(1000).max(60_000)).default(5000),
  /**
   * A slot at most this late still fires (a failover, a slow tick); older slots are missed slots and
   * follow the trigger's catch-up policy. Below the stream's 2-minute duplicate window, so a slot
   * fired twice around a failover is stored once.
   */
  KUMO_SCHEDULER_MISFIRE_GRACE: durationMs.pipe(z.number().int().min(0).max(90_000)).default(30_000),
  KUMO_RECORD_FLUSH: durationMs.default(100),
  /** How often the leader reads the database triggers again (start, pause, change, delete). */
  KUMO_DB_TRIGGER_RECONCILE: durationMs.pipe(z.number().int().min(50).max(60_000)).default(1000),
  /** A database trigger in error retries after this long, doubling up to the maximum. */
  KUMO_DB_TRIGGER_RETRY: durationMs.pipe(z.number().int().min(50).max(60_000)).default(1000),
  KUMO_DB_TRIGGER_RETRY_MAX: durationMs.pipe(z.number().int().min(50).max(3_600_000)).default(60_000),
  /** How often the leader reads the queue triggers again (start, pause, change, delete). */
  KUMO_QUEUE_TRIGGER_RECONCILE: durationMs.pipe(z.number().int().min(50).max(60_000)).default(1000),
  /**
   * Queue messages of a batch in flight stay the leader's this long after its last sign of life:
   * how soon a killed leader's batch comes back to its successor.
   */
  KUMO_QUEUE_ACK_WAIT: durationMs.pipe(z.number().int().min(1000).max(600_000)).default(30_000),
  /** A failed queue message's first retry delay (doubling per failure, at most a minute). */
  KUMO_QUEUE_RETRY: durationMs.pipe(z.number().int().min(0).max(60_000)).default(1000),
  /** Opens tenant secrets that triggers name (broker URLs, connection strings, alert signing keys). */
  KUMO_MASTER_KEY: sharedEnv.KUMO_MASTER_KEY,
  /** How often the leader evaluates each alert rule. */
  KUMO_ALERT_RULES_EVERY: durationMs.pipe(z.number().int().min(100).max(3_600_000)).default(30_000),
  /** Let alert webhooks reach loopback/private/link-local addresses (operators only; tests). */
  KUMO_ALERTS_ALLOW_PRIVATE: booleanFlag.default(false),
  /** Published events (and their deliveries) are kept this long; the leader deletes older ones. */
  KUMO_EVENTS_RETENTION: durationMs.pipe(z.number().int().min(60_000)).default(7 * 86_400_000),
  /** How often the leader deletes events past their retention. */
  KUMO_EVENTS_PURGE_INTERVAL: durationMs.pipe(z.number().int().min(100).max(86_400_000)).default(60_000),
});

export interface SchedulerConfig {
  host: string;
  port: number;
  natsUrl: string;
  busNamespace: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databaseSchema: string;
  tickMs: number;
  leaseTtlMs: number;
  misfireGraceMs: number;
  recordFlushMs: number;
  databaseTriggerReconcileMs: number;
  databaseTriggerRetryBaseMs: number;
  databaseTriggerRetryMaxMs: number;
  queueTriggerReconcileMs: number;
  queueAckWaitMs: number;
  queueRetryBaseMs: number;
  masterKey: string | undefined;
  alertsAllowPrivate: boolean;
  alertRulesEveryMs: number;
  eventsRetentionMs: number;
  eventsPurgeIntervalMs: number;
}

export function loadSchedulerConfig(env: Record<string, string | undefined>): SchedulerConfig {
  const c = parseOrThrow(schedulerConfigSchema, env, "scheduler configuration");
  return {
    host: c.KUMO_HOST,
    port: c.KUMO_SCHEDULER_PORT,
    natsUrl: c.NATS_URL,
    busNamespace: c.KUMO_BUS_NAMESPACE,
    dataDir: c.KUMO_DATA_DIR,
    databaseUrl: c.DATABASE_URL,
    databaseSchema: c.KUMO_DATABASE_SCHEMA,
    tickMs: c.KUMO_SCHEDULER_TICK,
    leaseTtlMs: c.KUMO_SCHEDULER_LEASE_TTL,
    misfireGraceMs: c.KUMO_SCHEDULER_MISFIRE_GRACE,
    recordFlushMs: c.KUMO_RECORD_FLUSH,
    databaseTriggerReconcileMs: c.KUMO_DB_TRIGGER_RECONCILE,
    databaseTriggerRetryBaseMs: c.KUMO_DB_TRIGGER_RETRY,
    databaseTriggerRetryMaxMs: c.KUMO_DB_TRIGGER_RETRY_MAX,
    queueTriggerReconcileMs: c.KUMO_QUEUE_TRIGGER_RECONCILE,
    queueAckWaitMs: c.KUMO_QUEUE_ACK_WAIT,
    queueRetryBaseMs: c.KUMO_QUEUE_RETRY,
    masterKey: c.KUMO_MASTER_KEY,
    alertsAllowPrivate: c.KUMO_ALERTS_ALLOW_PRIVATE,
    alertRulesEveryMs: c.KUMO_ALERT_RULES_EVERY,
    eventsRetentionMs: c.KUMO_EVENTS_RETENTION,
    eventsPurgeIntervalMs: c.KUMO_EVENTS_PURGE_INTERVAL,
  };
}
