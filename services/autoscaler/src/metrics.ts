import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Pool } from "./pool.ts";

/** What the node's gauges read when Prometheus scrapes. */
export interface MetricSources {
  pools(): Pool[];
  stemCells(): Record<string, number>;
  /** Async invocations waiting in the work queue (all nodes'), or undefined when unknown. */
  asyncBacklog(): Promise<number | undefined>;
  /** Sync invocations that came over a gateway's direct link since start. */
  syncOverLink?(): number;
}

/** Async outcomes as the worker settles them. */
export type AsyncOutcomeKind = "succeeded" | "retried" | "dead_lettered" | "requeued";

/** The autoscaler's Prometheus metrics, on a registry of its own. */
export class AutoscalerMetrics {
  readonly registry = new Registry();
  /** Async invocations settled on this node (a run that did not start is "requeued"). */
  readonly asyncOutcomes: Counter<"function_id" | "outcome" | "code">;
  readonly asyncSeconds: Histogram<"function_id">;
  /** Instances that had to start or wake for a request, by how. */
  readonly coldStarts: Counter<"runtime" | "kind">;
  readonly deliveries: Counter<"outcome">;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "kumo_autoscaler_" });
    this.asyncOutcomes = new Counter({
      name: "kumo_async_invocations_total",
      help: "Async invocations settled on this node: succeeded, retried, dead_lettered, or requeued (not run: the pool was full)",
      labelNames: ["function_id", "outcome", "code"],
      registers,
    });
    this.asyncSeconds = new Histogram({
      name: "kumo_async_invocation_duration_seconds",
      help: "Async invocation run time on this node (queue wait excluded)",
      labelNames: ["function_id"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.coldStarts = new Counter({
      name: "kumo_autoscaler_cold_starts_total",
      help: "Requests that waited for an instance to start (cold), be specialized (stem-cell) or unpaused",
      labelNames: ["runtime", "kind"],
      registers,
    });
    this.deliveries = new Counter({
      name: "kumo_destination_deliveries_total",
      help: "Destination webhook deliveries by outcome: delivered, failed (after every retry), refused (address policy)",
      labelNames: ["outcome"],
      registers,
    });
    new Gauge({
      name: "kumo_autoscaler_instances",
      help: "Function containers on this node, per version",
      labelNames: ["version_id"],
      registers,
      collect() {
        this.reset();
        for (const p of sources.pools()) this.inc({ version_id: p.spec.versionId }, p.instances.length);
      },
    });
    new Gauge({
      name: "kumo_autoscaler_in_flight",
      help: "Invocations running on this node, per version",
      labelNames: ["version_id"],
      registers,
      collect() {
        this.reset();
        for (const p of sources.pools()) this.inc({ version_id: p.spec.versionId }, p.inFlight);
      },
    });
    new Gauge({
      name: "kumo_autoscaler_stem_cells",
      help: "Ready stem cells on this node, per runtime",
      labelNames: ["runtime"],
      registers,
      collect() {
        this.reset();
        for (const [runtime, n] of Object.entries(sources.stemCells())) this.set({ runtime }, n);
      },
    });
    new Counter({
      name: "kumo_autoscaler_sync_link_invocations_total",
      help: "Sync invocations that came over a gateway's direct link (unix socket); the rest came through NATS",
      registers,
      collect() {
        this.reset();
        this.inc(sources.syncOverLink?.() ?? 0);
      },
    });
    new Gauge({
      name: "kumo_async_backlog",
      help: "Async invocations in the work queue not yet settled (waiting or running, all nodes)",
      registers,
      async collect() {
        const backlog = await sources.asyncBacklog().catch(() => undefined);
        if (backlog === undefined) this.reset();
        else this.set(backlog);
      },
    });
  }
}
