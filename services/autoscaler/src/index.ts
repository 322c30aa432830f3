import { connectBus, type NatsConnection } from "@kumo/bus";
import { serveHealth } from "@kumo/core";
import Docker from "dockerode";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { AutoscalerConfig } from "./config.ts";
import { reconcileContainers } from "./reconcile-containers.ts";

export { type AutoscalerConfig, loadAutoscalerConfig } from "./config.ts";
export { containerLabels } from "./container-labels.ts";
export { reconcileContainers } from "./reconcile-containers.ts";

export interface AutoscalerDeps {
  nats?: NatsConnection;
  docker?: Docker;
  log?: (line: string) => void;
}

export interface Autoscaler {
  url: string;
  stop(): Promise<void>;
}

/**
 * The per-node container pool service. This release does the node's housekeeping only: it joins the
 * bus, removes containers a previous run left behind and reports health. Warm pools, stem cells and
 * the NATS invocation consumers are the invocation-plane issue's work.
 */
export async function start(config: AutoscalerConfig, deps: AutoscalerDeps = {}): Promise<Autoscaler> {
  const log = deps.log ?? (() => {});
  const nc =
    deps.nats ?? (await connectBus({ url: config.natsUrl, name: `kumo-autoscaler-${config.nodeId}` }));
  const docker = deps.docker ?? new Docker({ socketPath: config.dockerSocket });
  const removed = await reconcileContainers(docker, config.nodeId).catch((error: unknown) => {
    log(`cannot reach the Docker engine at ${config.dockerSocket}: ${String(error)}`);
    return [];
  });
  if (removed.length > 0) log(`removed ${removed.length} containers left behind by a previous run`);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "kumo_autoscaler_" });
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
