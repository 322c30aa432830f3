import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** The gateway's Prometheus metrics, on a registry of its own (no module-level singletons). */
export class GatewayMetrics {
  readonly registry = new Registry();
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
    this.invocationSeconds = new Histogram({
      name: "kumo_invocation_duration_seconds",
      help: "Invocation duration as seen by the gateway",
      labelNames: ["function_id", "cold"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.apiSeconds = new Histogram({
      name: "kumo_api_request_duration_seconds",
      help: "Management API request duration",
      labelNames: ["route", "method", "status"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
  }
}
