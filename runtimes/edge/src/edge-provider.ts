import {
  type CallerSignal,
  type CapacityProvider,
  type DeployedVersion,
  errorResult,
  type FunctionConfig,
  type InvocationRequest,
  type InvocationResult,
  KumoError,
  PLATFORM_LIMITS,
  type Runtime,
} from "@kumo/core";
import {
  ATTR,
  contextOf,
  endSpan,
  faasTriggerOf,
  invocationAttributes,
  type Span,
  SpanKind,
  tracerFor,
  withTraceparent,
} from "@kumo/telemetry";
import { type EdgeProviderOptions, resolveEdgeOptions } from "./edge-provider-options.ts";
import type { EdgeStats } from "./edge-stats.ts";
import { HostProcess } from "./host-process.ts";
import type { IsolateLimits, WireRequest, WireResult } from "./host-protocol.ts";
import { loadRuntimeAssets } from "./runtime-assets.ts";
import { flattenHeaders, headerPairsOf } from "./wire-codec.ts";

/** The edge provider: a CapacityProvider plus what operators and tests look at. */
export interface EdgeProvider extends CapacityProvider {
  stats(): EdgeStats;
  /** Per host: process RSS and the heap bytes of each warm isolate. */
  probeMemory(): Promise<{ rss: number; heapBytes: number[] }[]>;
}

const encoder = new TextEncoder();

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** A function's limits, clamped to the platform maxima whatever the config says. */
export function isolateLimitsOf(config: FunctionConfig): IsolateLimits {
  return {
    memoryMb: clamp(config.memoryMb ?? 128, PLATFORM_LIMITS.memoryMb.min, PLATFORM_LIMITS.memoryMb.max),
    cpuMs: clamp(config.cpuMs ?? 50, PLATFORM_LIMITS.cpuMs.min, PLATFORM_LIMITS.cpuMs.max),
    timeoutMs: clamp(
      config.timeoutMs ?? 10_000,
      PLATFORM_LIMITS.timeoutMs.min,
      PLATFORM_LIMITS.timeoutMs.max,
    ),
    maxBodyBytes: clamp(
      config.maxBodyBytes ?? PLATFORM_LIMITS.bodyBytes.max,
      1,
      PLATFORM_LIMITS.bodyBytes.max,
    ),
    egress: config.egress ?? false,
  };
}

/** FNV-1a: routes a key to the same host every time, so its warm isolate is found again. */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Starts the isolate hosts and returns the edge CapacityProvider. Invocations of one function version
 * (per tenant and env) always go to the same host, where its isolate stays warm.
 */
export async function createEdgeProvider(options: EdgeProviderOptions = {}): Promise<EdgeProvider> {
  const resolved = resolveEdgeOptions(options);
  const assets = await loadRuntimeAssets();
  let coldStarts = 0;
  let invocations = 0;
  let limitViolations = 0;
  let state: "ready" | "stopped" = "ready";
  const hosts = Array.from(
    { length: resolved.hosts },
    (_, index) =>
      new HostProcess(
        index,
        assets,
        {
          bootstrap: assets.bootstrap,
          maxIsolates: resolved.maxIsolatesPerHost,
          idleTtlMs: resolved.idleTtlMs,
          spareIsolates: resolved.spareIsolates,
          spareMemoryMb: 128,
          fetch: resolved.fetch,
        },
        {
          lateLogs: (invocationId, logs) => options.onLateLogs?.(invocationId, logs),
          limit: (versionId, code, message) => {
            limitViolations++;
            options.onLimit?.(versionId, code, message);
          },
          restarted: () => undefined,
        },
        options.hostNodeArgs,
      ),
  );
  try {
    await Promise.all(hosts.map((host) => host.start()));
  } catch (error) {
    await Promise.all(hosts.map((host) => host.stop()));
    const why = error instanceof Error ? error.message : String(error);
    throw new KumoError("FN_500", `edge isolate hosts failed to start: ${why}`, { cause: error });
  }

  function toInvocation(wire: WireResult): InvocationResult {
    const coldStart = wire.cold ? "cold" : "warm";
    if (wire.cold) coldStarts++;
    const logs = wire.logs;
    const result: InvocationResult = wire.error
      ? errorResult(wire.error, coldStart, 0, logs)
      : {
          status: wire.status,
          headers: headerPairsOf(wire.headers),
          body: typeof wire.body === "string" ? encoder.encode(wire.body) : wire.body,
          coldStart,
          queueMs: 0,
          logs,
        };
    if (wire.cpuMs !== undefined || wire.heapBytes !== undefined) {
      result.usage = {};
      if (wire.cpuMs !== undefined) result.usage.cpuMs = wire.cpuMs;
      if (wire.heapBytes !== undefined) result.usage.memoryBytes = wire.heapBytes;
    }
    return result;
  }

  /** Derived once per target object: the gateway keeps its DeployedVersions, so this is per version. */
  const routes = new WeakMap<DeployedVersion, { key: string; limits: IsolateLimits; host: HostProcess }>();
  function routeOf(target: DeployedVersion) {
    let route = routes.get(target);
    if (!route) {
      const key = `${target.tenantId}:${target.versionId}:${target.envDigest}`;
      const host = hosts[hashKey(key) % hosts.length];
      if (!host) throw new KumoError("FN_500", "no isolate host");
      route = { key, limits: isolateLimitsOf(target.config), host };
      routes.set(target, route);
    }
    return route;
  }

  function invoke(
    target: DeployedVersion,
    request: InvocationRequest,
    signal?: CallerSignal,
  ): Promise<InvocationResult> {
    const span = isolateSpan(target, request);
    return span ? traced(span, target, request, signal) : run(target, request, request.headers, signal);
  }

  /** With tracing on and the trace sampled, the invocation runs inside the isolate's span. */
  async function traced(
    span: Span,
    target: DeployedVersion,
    request: InvocationRequest,
    signal?: CallerSignal,
  ): Promise<InvocationResult> {
    try {
      // The function's own spans join the trace as children of the isolate's span.
      const result = await run(target, request, withTraceparent(request.headers, span), signal);
      span.setAttribute(ATTR.faasColdstart, result.coldStart !== "warm");
      span.setAttribute(ATTR.httpStatus, result.status);
      endSpan(span, result.error);
      return result;
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  }

  async function run(
    target: DeployedVersion,
    request: InvocationRequest,
    headers: Record<string, string>,
    signal?: CallerSignal,
  ): Promise<InvocationResult> {
    if (state !== "ready") throw new KumoError("FN_500", "the edge provider is stopped");
    if (target.runtime !== "edge")
      throw new KumoError("FN_500", `the edge provider cannot run runtime ${target.runtime}`);
    signal?.throwIfAborted();
    invocations++;
    const started = Date.now();
    const { key, limits, host } = routeOf(target);
    if (request.body && request.body.byteLength > limits.maxBodyBytes) {
      return errorResult({
        code: "FN_010",
        message: `Request body of ${request.body.byteLength} bytes exceeds the limit of ${limits.maxBodyBytes} bytes`,
      });
    }
    if (request.deadline <= started)
      return errorResult({ code: "FN_002", message: "the invocation's deadline passed before it started" });
    const origin = `${request.headers["x-forwarded-proto"] ?? "http"}://${request.headers.host ?? "localhost"}`;
    const wireRequest: WireRequest = {
      invocationId: request.invocationId,
      trigger: request.trigger,
      method: request.method.toUpperCase(),
      url: request.url.startsWith("/") ? `${origin}${request.url}` : request.url,
      headers: flattenHeaders(Object.entries(headers)),
      body: request.body,
      deadline: request.deadline,
    };
    const pending = host.invoke(
      {
        key,
        versionId: target.versionId,
        functionName: target.functionName,
        version: target.version,
        limits,
        request: wireRequest,
      },
      async () => ({
        code: await target.loadCode(),
        env: target.env,
        handlerShape: target.config.handlerShape,
      }),
    );
    const wire = signal ? await abortable(pending, signal) : await pending;
    return toInvocation(wire);
  }

  return {
    name: "edge",
    supports: (runtime: Runtime) => runtime === "edge",
    invoke,
    async evict(versionId: string) {
      for (const host of hosts) host.evict(versionId);
    },
    async stop() {
      state = "stopped";
      await Promise.all(hosts.map((host) => host.stop()));
    },
    stats(): EdgeStats {
      return {
        hosts: hosts.map((h) => ({
          index: h.index,
          pid: h.pid,
          state: h.state,
          inflight: h.inflight,
          warm: h.warm,
          spare: h.spare,
          restarts: h.restarts,
          codeRequests: h.codeRequests,
        })),
        hostsAlive: hosts.filter((h) => h.state === "ready").length,
        restarts: hosts.reduce((n, h) => n + h.restarts, 0),
        isolatesWarm: hosts.reduce((n, h) => n + h.warm, 0),
        coldStarts,
        invocations,
        limitViolations,
      };
    },
    probeMemory: () => Promise.all(hosts.map((host) => host.probe())),
  };
}

/** The span of one invocation in an isolate host, when tracing is on: the function's own span. */
function isolateSpan(target: DeployedVersion, request: InvocationRequest): Span | undefined {
  const tracer = tracerFor(request.traceparent);
  if (!tracer) return undefined;
  const span = tracer.startSpan(
    `isolate invoke ${target.functionName}`,
    { kind: SpanKind.SERVER, attributes: invocationAttributes(target) },
    contextOf(request.traceparent),
  );
  span.setAttributes({
    [ATTR.faasName]: target.functionName,
    [ATTR.faasInvocationId]: request.invocationId,
    [ATTR.faasTrigger]: faasTriggerOf(request.trigger),
    [ATTR.runtime]: "edge",
  });
  return span;
}

function abortable<T>(promise: Promise<T>, signal: CallerSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
