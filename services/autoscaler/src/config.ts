import { parseOrThrow } from "@kumo/core";
import { z } from "zod";

export const autoscalerConfigSchema = z.object({
  KUMO_HOST: z.string().default("127.0.0.1"),
  KUMO_AUTOSCALER_PORT: z.coerce.number().int().min(0).max(65535).default(8082),
  KUMO_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, '-' and '_' only")
    .optional(),
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  DOCKER_HOST: z.string().optional(),
});

export interface AutoscalerConfig {
  host: string;
  port: number;
  nodeId: string;
  natsUrl: string;
  /** unix socket path of the Docker engine. */
  dockerSocket: string;
}

export function loadAutoscalerConfig(env: Record<string, string | undefined>): AutoscalerConfig {
  const c = parseOrThrow(autoscalerConfigSchema, env, "autoscaler configuration");
  return {
    host: c.KUMO_HOST,
    port: c.KUMO_AUTOSCALER_PORT,
    nodeId: c.KUMO_NODE_ID ?? "local",
    natsUrl: c.NATS_URL,
    dockerSocket: c.DOCKER_HOST?.replace(/^unix:\/\//, "") ?? "/var/run/docker.sock",
  };
}
