import { parseOrThrow } from "@kumo/core";
import { z } from "zod";

export const builderConfigSchema = z.object({
  KUMO_HOST: z.string().default("127.0.0.1"),
  KUMO_BUILDER_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  DOCKER_HOST: z.string().optional(),
});

export interface BuilderConfig {
  host: string;
  port: number;
  natsUrl: string;
  dockerSocket: string;
}

export function loadBuilderConfig(env: Record<string, string | undefined>): BuilderConfig {
  const c = parseOrThrow(builderConfigSchema, env, "builder configuration");
  return {
    host: c.KUMO_HOST,
    port: c.KUMO_BUILDER_PORT,
    natsUrl: c.NATS_URL,
    dockerSocket: c.DOCKER_HOST?.replace(/^unix:\/\//, "") ?? "/var/run/docker.sock",
  };
}
