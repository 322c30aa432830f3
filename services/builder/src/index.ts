import { connectBus, type NatsConnection } from "@kumo/bus";
import { serveHealth } from "@kumo/core";
import Docker from "dockerode";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { BuilderConfig } from "./config.ts";

export { type BuilderConfig, loadBuilderConfig } from "./config.ts";

export interface BuilderDeps {
  nats?: NatsConnection;
  docker?: Docker;
}

export interface Builder {
  url: string;
  stop(): Promise<void>;
}

/**
 * The image builder service. In this release it only joins the bus and reports whether the Docker
 * engine and the runtime base images are there; source-to-image builds are the builder issue's work
 * (edge functions are bundled by the gateway and need no builder).
 */
export async function start(config: BuilderConfig, deps: BuilderDeps = {}): Promise<Builder> {
  const nc = deps.nats ?? (await connectBus({ url: config.natsUrl, name: "kumo-builder" }));
  const docker = deps.docker ?? new Docker({ socketPath: config.dockerSocket });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "kumo_builder_" });
  const health = await serveHealth({
    host: config.host,
    port: config.port,
    checks: async () => ({
      nats: !nc.isClosed(),
      docker: await docker
        .ping()
        .then(() => true)
        .catch(() => false),
    }),
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  });
  return {
    url: health.url,
    async stop() {
      await health.close();
      if (!deps.nats) await nc.drain();
    },
  };
}
