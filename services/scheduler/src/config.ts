import { parseOrThrow } from "@kumo/core";
import { z } from "zod";

export const schedulerConfigSchema = z.object({
  KUMO_HOST: z.string().default("127.0.0.1"),
  KUMO_SCHEDULER_PORT: z.coerce.number().int().min(0).max(65535).default(8083),
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
});

export interface SchedulerConfig {
  host: string;
  port: number;
  natsUrl: string;
}

export function loadSchedulerConfig(env: Record<string, string | undefined>): SchedulerConfig {
  const c = parseOrThrow(schedulerConfigSchema, env, "scheduler configuration");
  return { host: c.KUMO_HOST, port: c.KUMO_SCHEDULER_PORT, natsUrl: c.NATS_URL };
}
