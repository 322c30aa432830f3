import { MetricsExposer } from "@kumo/telemetry";
import { Counter, collectDefaultMetrics, Histogram, type LabelValues, Registry } from "prom-client";

/** The gateway's Prometheus metrics, on a registry of its own (no module-level singletons). */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** Renders the registry as Prometheus text, or OpenMetrics (with exemplars) when the scraper asks. */
  readonly exposer = new MetricsExposer(this.registry);
  readonly invocations: Counter<"function_id" | "outcome" | "code">;
  readonly invocationSeconds: Histogram<"function_id" | "cold">;
  readonly apiSeconds: Histogram<"route" | "method" | "status">;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "kumo_gateway_" });
    this.invocations = new Counter({
      name: "kumo_invocations_total",
      help: "Function invocations by outcome and error code",
      labelNames: ["function_id", "outcome", "code"],
      registers: [this.registry],
    });
    this.invocationSeconds = this.exposer.withExemplars(
      () =>
        new Histogram({
          name: "kumo_invocation_duration_seconds",
          help: "Invocation duration as seen by the gateway",
          labelNames: ["function_id", "cold"],
          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers: [this.registry],
          // Each bucket keeps its latest traced observation's trace id (served in OpenMetrics only).
          enableExemplars: true,
        }),
    );
    this.apiSeconds = new Histogram({
      name: "kumo_api_request_duration_seconds",
      help: "Management API request duration",
      labelNames: ["route", "method", "status"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
  }

  /**
   * One invocation's duration; a traced invocation's trace id becomes the bucket's exemplar, so a
   * slow bucket in Grafana links to a trace that landed in it.
   */
  observeInvocation(
    labels: { function_id: string; cold: string },
    seconds: number,
    traceId: string | null | undefined,
  ): void {
    // prom-client types exemplar labels as the metric's own label names; any names are allowed.
    const exemplarLabels = (traceId ? { trace_id: traceId } : {}) as LabelValues<"function_id" | "cold">;
    this.invocationSeconds.observe({ labels, value: seconds, exemplarLabels });
  }
}
