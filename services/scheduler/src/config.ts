import { parseOrThrow, portEnv, sharedEnv } from "@kumo/core";
import { z } from "zod";

export const schedulerConfigSchema = z.object({
  KUMO_HOST: sharedEnv.KUMO_HOST,
  KUMO_SCHEDULER_PORT: portEnv(8083),
  NATS_URL: sharedEnv.NATS_URL,
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
