export { type Span, SpanKind, type Tracer } from "@opentelemetry/api";
export { ATTR, faasTriggerOf, invocationAttributes } from "./attributes.ts";
export { endSpan } from "./end-span.ts";
export { ExplicitContextManager } from "./explicit-context-manager.ts";
export { acceptsOpenMetrics, MetricsExposer, type MetricsExposition } from "./metrics-exposition.ts";
export { activeTracer, startTelemetry, type Telemetry, tracerFor } from "./start-telemetry.ts";
export {
  childOf,
  contextOf,
  spanContextOf,
  traceIdOf,
  traceparentOf,
  withTraceparent,
} from "./trace-context.ts";
export { tracingRequested } from "./tracing-requested.ts";
