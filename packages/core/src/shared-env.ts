import { z } from "zod";

/** "1", "true" and "yes" are on; "0", "false" and "no" off (case-insensitive). */
export const booleanFlag = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(["1", "0", "true", "false", "yes", "no", "on", "off"]))
  .transform((v) => v === "1" || v === "true" || v === "yes" || v === "on");

/**
 * Environment variables more than one service reads, each validated by one schema, so every
 * service accepts and refuses the same values (a setting the gateway takes and the autoscaler
 * refused made `kumo dev` fail at start). Each service's schema spreads the ones it reads.
 */
export const sharedEnv = {
  KUMO_HOST: z.string().min(1).default("127.0.0.1"),
  KUMO_DATA_DIR: z.string().min(1).default(".kumo"),
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  DATABASE_URL: z.string().min(1).optional(),
  KUMO_DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lowercase SQL identifier")
    .default("public"),
  /** Names this installation's NATS traffic; default: the identity kept in its database. */
  KUMO_BUS_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]{0,32}$/, "lower-case letters and digits only")
    .default(""),
  KUMO_MASTER_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters (32 bytes)")
    .optional(),
  DOCKER_HOST: z.string().min(1).optional(),
  /** Edge functions' fetch may reach loopback/private addresses (operators only; gateway and autoscaler). */
  KUMO_EDGE_ALLOW_PRIVATE_FETCH: booleanFlag.default(false),
  /** Extra node flags of isolate host processes (profiling, inspector). */
  KUMO_EDGE_HOST_NODE_ARGS: z.string().default(""),
  /** Bytes of log output one invocation may store; past it a marker line, the rest dropped. */
  KUMO_LOG_CAP_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(256 * 1024),
  KUMO_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
} as const;

/** A port setting with the service's default (0 picks a free one). */
export const portEnv = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** The Docker engine's unix socket path from DOCKER_HOST. */
export function dockerSocketOf(dockerHost: string | undefined): string {
  return dockerHost?.replace(/^unix:\/\//, "") ?? "/var/run/docker.sock";
}
