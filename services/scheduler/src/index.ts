import { connectBus, type NatsConnection } from "@kumo/bus";
import { serveHealth } from "@kumo/core";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { SchedulerConfig } from "./config.ts";

export { loadSchedulerConfig, type SchedulerConfig } from "./config.ts";

export interface SchedulerDeps {
  nats?: NatsConnection;
}

export interface Scheduler {
  url: string;
  stop(): Promise<void>;
}

/**
 * The trigger service. In this release it joins the bus and reports health; cron, queue, database
 * and event triggers are the triggers issue's work (trigger specs are already validated in kumo.json).
 */
export async function start(config: SchedulerConfig, deps: SchedulerDeps = {}): Promise<Scheduler> {
  const nc = deps.nats ?? (await connectBus({ url: config.natsUrl, name: "kumo-scheduler" }));
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "kumo_scheduler_" });
  const health = await serveHealth({
    host: config.host,
    port: config.port,
    checks: async () => ({ nats: !nc.isClosed() }),
    metrics: registry,
  });
  return {
    url: health.url,
    async stop() {
      await health.close();
      if (!deps.nats) await nc.drain();
    },
  };
}
