import { booleanFlag, dockerSocketOf, durationMs, parseOrThrow, portEnv, sharedEnv } from "@kumo/core";
import { z } from "zod";

const STEM_RUNTIMES = ["node", "bun", "deno", "python", "go"] as const;
export type StemRuntime = (typeof STEM_RUNTIMES)[number];

const stemCellList = z
  .string()
  .regex(
    /^(\s*(node|bun|deno|python|go)\s*:\s*\d{1,2}\s*)(,\s*(node|bun|deno|python|go)\s*:\s*\d{1,2}\s*)*$|^$/,
    {
      message: 'expected "runtime:count" pairs, e.g. "node:1,python:1"',
    },
  );

const labelList = z
  .string()
  .regex(/^([A-Za-z0-9._/-]+=[A-Za-z0-9._/-]*)(,[A-Za-z0-9._/-]+=[A-Za-z0-9._/-]*)*$|^$/, {
    message: 'expected "key=value" pairs separated by commas',
  });

export const autoscalerConfigSchema = z.object({
  KUMO_HOST: sharedEnv.KUMO_HOST,
  KUMO_AUTOSCALER_PORT: portEnv(8082),
  KUMO_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, '-' and '_' only")
    .optional(),
  NATS_URL: sharedEnv.NATS_URL,
  KUMO_BUS_NAMESPACE: sharedEnv.KUMO_BUS_NAMESPACE,
  DOCKER_HOST: sharedEnv.DOCKER_HOST,
  KUMO_DATA_DIR: sharedEnv.KUMO_DATA_DIR,
  DATABASE_URL: sharedEnv.DATABASE_URL,
  KUMO_DATABASE_SCHEMA: sharedEnv.KUMO_DATABASE_SCHEMA,
  KUMO_MASTER_KEY: sharedEnv.KUMO_MASTER_KEY,
  /** Stem cells always kept per runtime; demand raises the pool up to KUMO_STEM_CELL_MAX. */
  KUMO_STEM_CELLS: stemCellList.default(""),
  KUMO_STEM_CELL_MAX: z.coerce.number().int().min(0).max(32).default(4),
  KUMO_PAUSE_AFTER: durationMs.default(30_000),
  KUMO_QUEUE_TIMEOUT: durationMs.default(2000),
  KUMO_ASYNC_ACK_WAIT: durationMs.default(30_000),
  KUMO_ASYNC_RETRY_BASE: durationMs.default(1000),
  KUMO_ASYNC_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(256),
  KUMO_RECORD_FLUSH: durationMs.default(100),
  KUMO_LOG_CAP_BYTES: sharedEnv.KUMO_LOG_CAP_BYTES,
  /** Extra labels on every container (tests mark theirs). */
  KUMO_CONTAINER_LABELS: labelList.default(""),
  KUMO_INSTANCE_START_TIMEOUT: durationMs.default(15_000),
  /** Let async destination webhooks reach loopback/private/link-local addresses (operators only). */
  KUMO_DESTINATIONS_ALLOW_PRIVATE: booleanFlag.default(false),
  KUMO_DESTINATION_TIMEOUT: durationMs.default(5000),
  KUMO_DESTINATION_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  KUMO_DESTINATION_RETRY_BASE: durationMs.default(1000),
  /** Async edge invocations run in isolates on this node; the gateway's fetch policy setting. */
  KUMO_EDGE_ALLOW_PRIVATE_FETCH: sharedEnv.KUMO_EDGE_ALLOW_PRIVATE_FETCH,
  KUMO_EDGE_HOST_NODE_ARGS: sharedEnv.KUMO_EDGE_HOST_NODE_ARGS,
  /** Offer gateways on this machine a direct link (a unix socket) for sync invocations. */
  KUMO_DIRECT_LINK: booleanFlag.default(true),
});

export interface AutoscalerConfig {
  host: string;
  port: number;
  nodeId: string;
  natsUrl: string;
  /** Separates installations sharing one NATS server (see streams in @kumo/bus). */
  busNamespace: string;
  /** unix socket path of the Docker engine. */
  dockerSocket: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databaseSchema: string;
  masterKey: string | undefined;
  stemCells: Partial<Record<StemRuntime, number>>;
  stemCellMax: number;
  pauseAfterMs: number;
  queueTimeoutMs: number;
  asyncAckWaitMs: number;
  asyncRetryBaseMs: number;
  asyncConcurrency: number;
  recordFlushMs: number;
  /** Per-invocation cap of stored log bytes. */
  logCapBytes: number;
  containerLabels: Record<string, string>;
  instanceStartTimeoutMs: number;
  /** Let edge functions run here (async) fetch loopback/private addresses (operators only). */
  edgeAllowPrivateFetch: boolean;
  /** Extra node flags of this node's isolate host processes. */
  edgeHostNodeArgs: string[];
  /** Offer a direct link to gateways on this machine (see LinkServer in @kumo/bus). */
  directLink: boolean;
  destinations: {
    allowPrivate: boolean;
    timeoutMs: number;
    retries: number;
    retryBaseMs: number;
  };
}

export function loadAutoscalerConfig(env: Record<string, string | undefined>): AutoscalerConfig {
  const c = parseOrThrow(autoscalerConfigSchema, env, "autoscaler configuration");
  const stemCells: Partial<Record<StemRuntime, number>> = {};
  for (const pair of c.KUMO_STEM_CELLS.split(",").filter((p) => p.trim() !== "")) {
    const [runtime, count] = pair.split(":").map((s) => s.trim());
    stemCells[runtime as StemRuntime] = Number(count);
  }
  const containerLabels: Record<string, string> = {};
  for (const pair of c.KUMO_CONTAINER_LABELS.split(",").filter((p) => p !== "")) {
    const at = pair.indexOf("=");
    containerLabels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return {
    host: c.KUMO_HOST,
    port: c.KUMO_AUTOSCALER_PORT,
    nodeId: c.KUMO_NODE_ID ?? "local",
    natsUrl: c.NATS_URL,
    busNamespace: c.KUMO_BUS_NAMESPACE,
    dockerSocket: dockerSocketOf(c.DOCKER_HOST),
    dataDir: c.KUMO_DATA_DIR,
    databaseUrl: c.DATABASE_URL,
    databaseSchema: c.KUMO_DATABASE_SCHEMA,
    masterKey: c.KUMO_MASTER_KEY,
    stemCells,
    stemCellMax: c.KUMO_STEM_CELL_MAX,
    pauseAfterMs: c.KUMO_PAUSE_AFTER,
    queueTimeoutMs: c.KUMO_QUEUE_TIMEOUT,
    asyncAckWaitMs: Math.max(1000, c.KUMO_ASYNC_ACK_WAIT),
    asyncRetryBaseMs: c.KUMO_ASYNC_RETRY_BASE,
    asyncConcurrency: c.KUMO_ASYNC_CONCURRENCY,
    recordFlushMs: c.KUMO_RECORD_FLUSH,
    logCapBytes: c.KUMO_LOG_CAP_BYTES,
    containerLabels,
    instanceStartTimeoutMs: c.KUMO_INSTANCE_START_TIMEOUT,
    edgeAllowPrivateFetch: c.KUMO_EDGE_ALLOW_PRIVATE_FETCH,
    edgeHostNodeArgs: c.KUMO_EDGE_HOST_NODE_ARGS.split(/\s+/).filter(Boolean),
    directLink: c.KUMO_DIRECT_LINK,
    destinations: {
      allowPrivate: c.KUMO_DESTINATIONS_ALLOW_PRIVATE,
      timeoutMs: c.KUMO_DESTINATION_TIMEOUT,
      retries: c.KUMO_DESTINATION_RETRIES,
      retryBaseMs: c.KUMO_DESTINATION_RETRY_BASE,
    },
  };
}

export const STEM_CELL_RUNTIMES: readonly StemRuntime[] = STEM_RUNTIMES;
