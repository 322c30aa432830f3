import { z } from "zod";
import { durationMs } from "./duration.ts";
import { envKey, resourceName } from "./names.ts";

/**
 * The settings of queue and database triggers and of failure alerts, in the shape kumo.json and the
 * API accept (durations as "30s" or ms) and the shape stored and used (ms). One schema for both
 * entry points, so a trigger declared in kumo.json and one made through the API mean the same.
 */

export const QUEUE_BATCH_SIZE = { min: 1, max: 10_000 } as const;
export const QUEUE_BATCH_WINDOW_MS = { max: 300_000 } as const;
export const QUEUE_MAX_DELIVERIES = { min: 1, max: 100, default: 5 } as const;
export const CRON_JITTER_MS = { max: 3_600_000 } as const;

/** "orders" or "public.orders": a PostgreSQL table name, unquoted. */
const tableName = z
  .string()
  .max(127)
  .regex(
    /^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/,
    'must be a table name such as "orders" or "public.orders" (letters, digits, _ and $)',
  );
const columnName = z
  .string()
  .max(63)
  .regex(/^[A-Za-z_][A-Za-z0-9_$]*$/, "must be a column name (letters, digits, _ and $)");

/** Fields of a queue trigger (kumo.json and API alike). */
export const queueTriggerFields = {
  /** A tenant queue in Kumo (`POST /v1/queues/:name/messages`), or the queue's name on the broker. */
  queue: z.string().min(1).max(200),
  batchSize: z.number().int().min(QUEUE_BATCH_SIZE.min).max(QUEUE_BATCH_SIZE.max).default(1),
  batchWindow: durationMs
    .pipe(z.number().int().min(0).max(QUEUE_BATCH_WINDOW_MS.max, "must be at most 300s"))
    .default(0),
  ordered: z.boolean().default(false),
  maxDeliveries: z
    .number()
    .int()
    .min(QUEUE_MAX_DELIVERIES.min)
    .max(QUEUE_MAX_DELIVERIES.max)
    .default(QUEUE_MAX_DELIVERIES.default),
  /** An external broker whose URL is a tenant secret; absent: the tenant queue in Kumo. */
  broker: z.strictObject({ kind: z.literal("rabbitmq"), urlSecret: envKey }).optional(),
};

/** A Kumo queue name must be a resource name; a RabbitMQ queue name is the broker's business. */
export function queueNameProblem(queue: string, external: boolean): string | undefined {
  if (external) {
    const printable = queue.length >= 1 && queue.length <= 200 && ![...queue].some((c) => c < " ");
    return printable ? undefined : "must be 1-200 printable characters";
  }
  const parsed = resourceName.safeParse(queue);
  return parsed.success ? undefined : (parsed.error.issues[0]?.message ?? "is not a valid queue name");
}

/** Fields of a database trigger (kumo.json and API alike). */
export const databaseTriggerFields = {
  /** The tenant secret holding the PostgreSQL connection string. */
  connectionSecret: envKey,
  tables: z.array(tableName).min(1).max(50),
  events: z
    .array(z.enum(["insert", "update", "delete"]))
    .min(1)
    .default(["insert", "update", "delete"]),
  columns: z.array(columnName).min(1).max(200).optional(),
  /** A row filter: a PostgreSQL boolean expression on the table's columns (PostgreSQL 15+). */
  filter: z
    .string()
    .min(1)
    .max(1000)
    .refine((f) => !f.includes(";") && !f.includes("\u0000"), "must be one expression, without ';'")
    .optional(),
};

/** A failure alert: a webhook told after `after` consecutive failed runs, and on recovery. */
export const triggerAlertSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).max(2048),
  after: z.number().int().min(1).max(1000).default(1),
  format: z.enum(["json", "slack"]).default("json"),
  /** Tenant secret whose value signs the body (HMAC-SHA256, header `kumo-signature`). */
  secret: envKey.optional(),
});

export const cronJitter = durationMs.pipe(
  z.number().int().min(0).max(CRON_JITTER_MS.max, "must be at most 1h"),
);

/** Queue trigger settings as stored. */
export interface QueueTriggerSettings {
  queue: string;
  batchSize: number;
  batchWindowMs: number;
  ordered: boolean;
  maxDeliveries: number;
  broker?: { kind: "rabbitmq"; urlSecret: string };
}

/** Database trigger settings as stored. */
export interface DatabaseTriggerSettings {
  connectionSecret: string;
  tables: string[];
  events: ("insert" | "update" | "delete")[];
  columns?: string[];
  filter?: string;
}

export type TriggerSettings = QueueTriggerSettings | DatabaseTriggerSettings;
export type TriggerAlert = z.output<typeof triggerAlertSchema>;

export const isQueueSettings = (s: TriggerSettings): s is QueueTriggerSettings => "queue" in s;

/** From parsed fields (either entry point) to the stored settings. */
export function queueSettings(input: {
  queue: string;
  batchSize: number;
  batchWindow: number;
  ordered: boolean;
  maxDeliveries: number;
  broker?: { kind: "rabbitmq"; urlSecret: string } | undefined;
}): QueueTriggerSettings {
  return {
    queue: input.queue,
    batchSize: input.batchSize,
    batchWindowMs: input.batchWindow,
    ordered: input.ordered,
    maxDeliveries: input.maxDeliveries,
    ...(input.broker ? { broker: input.broker } : {}),
  };
}

export function databaseSettings(input: {
  connectionSecret: string;
  tables: string[];
  events: ("insert" | "update" | "delete")[];
  columns?: string[] | undefined;
  filter?: string | undefined;
}): DatabaseTriggerSettings {
  return {
    connectionSecret: input.connectionSecret,
    tables: input.tables.map((t) => (t.includes(".") ? t : `public.${t}`)),
    events: [...new Set(input.events)],
    ...(input.columns ? { columns: input.columns } : {}),
    ...(input.filter ? { filter: input.filter } : {}),
  };
}
