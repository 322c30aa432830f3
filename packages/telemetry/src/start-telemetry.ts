import { context, type ProxyTracerProvider, propagation, type Tracer, trace } from "@opentelemetry/api";
import { ExplicitContextManager } from "./explicit-context-manager.ts";
import { tracingRequested } from "./tracing-requested.ts";

/** What a service holds while telemetry runs; `stop()` flushes what is buffered. */
export interface Telemetry {
  /** True when spans are recorded and exported (the OTEL_* variables asked for it). */
  readonly enabled: boolean;
  /** Exports the spans buffered so far (tests, shutdown). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

interface Running {
  tracer: Tracer;
  /** The sampler follows a remote parent's decision (OTEL_TRACES_SAMPLER parentbased_*, the default). */
  followsParent: boolean;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
  users: number;
}

/**
 * The process's OpenTelemetry SDK. OpenTelemetry's API is process-global by design (one tracer
 * provider, one context manager); the all-in-one launcher and the tests run several services in one
 * process, so the SDK is started once and shared, counted by its users, and shut down by the last.
 */
let running: Running | undefined;
let starting: Promise<Running | undefined> | undefined;

/**
 * The tracer spans are made with, or undefined when tracing is off. Hot paths call this and create
 * nothing (no span, no context, no header copy) when it is undefined: tracing off costs one check.
 */
export function activeTracer(): Tracer | undefined {
  return running?.tracer;
}

/**
 * The tracer for a span whose parent is `traceparent`, or undefined when no span should be made:
 * tracing is off, or the parent was not sampled and the sampler follows the parent (the default),
 * so the span would record nothing. The hop then passes the parent's traceparent on unchanged:
 * an unsampled request costs no span object past the gateway's first.
 */
export function tracerFor(traceparent: string | undefined): Tracer | undefined {
  const sdk = running;
  if (!sdk) return undefined;
  if (sdk.followsParent && traceparent !== undefined && !sampledFlag(traceparent)) return undefined;
  return sdk.tracer;
}

/** The W3C "sampled" flag: the low bit of the last hex digit of the trace flags. */
function sampledFlag(traceparent: string): boolean {
  const last = traceparent.charCodeAt(traceparent.length - 1);
  // '0'..'9' are 48..57, 'a'..'f' 97..102, 'A'..'F' 65..70: odd digit values are odd char codes
  // for digits and even ones for letters.
  return last <= 57 ? (last & 1) === 1 : (last & 1) === 0;
}

/**
 * Starts tracing for a service when the standard OpenTelemetry variables ask for it (see
 * `tracingRequested`): @opentelemetry/sdk-node configured from the environment (exporter, OTLP
 * endpoint, protocol and headers, sampler `OTEL_TRACES_SAMPLER`/`_ARG`, batch settings, resource
 * attributes), W3C trace context, `service.name` from OTEL_SERVICE_NAME or `serviceName`. The SDK is
 * only loaded when tracing is on. Its metrics and logs pipelines stay off: Kumo's metrics are
 * Prometheus, its logs are stored with the invocations.
 */
export async function startTelemetry(serviceName: string): Promise<Telemetry> {
  if (!tracingRequested(process.env)) return OFF;
  starting ??= load(serviceName);
  const sdk = await starting;
  if (!sdk) return OFF;
  sdk.users++;
  let stopped = false;
  return {
    enabled: true,
    flush: () => sdk.flush(),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (--sdk.users > 0) {
        await sdk.flush();
        return;
      }
      running = undefined;
      starting = undefined;
      await sdk.shutdown();
      // Unregistered, so a later start in this process (a test file after another) registers anew.
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

const OFF: Telemetry = {
  enabled: false,
  flush: async () => {},
  stop: async () => {},
};

async function load(serviceName: string): Promise<Running | undefined> {
  const [{ NodeSDK }, { W3CTraceContextPropagator }] = await Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/core"),
  ]);
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME?.trim() || serviceName,
    textMapPropagator: new W3CTraceContextPropagator(),
    contextManager: new ExplicitContextManager(),
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  // The SDK's own provider, not the API's proxy: spans skip a delegation, and it can be flushed.
  const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as ReturnType<
    ProxyTracerProvider["getDelegate"]
  > & { forceFlush?: () => Promise<void> };
  const sampler = (process.env.OTEL_TRACES_SAMPLER ?? "").trim().toLowerCase();
  running = {
    tracer: provider.getTracer("kumo"),
    followsParent: sampler === "" || sampler.startsWith("parentbased_"),
    flush: async () => {
      await provider.forceFlush?.();
    },
    shutdown: () => sdk.shutdown(),
    users: 0,
  };
  return running;
}
