import type { CallerSignal, CapacityProvider, InvocationRequest, InvocationResult } from "@kumo/core";
import { errorResult, KumoError, toKumoError } from "@kumo/core";
import { invocationLogRows, type Recorder } from "@kumo/db";
import type { GatewayMetrics } from "../metrics.ts";
import type { FunctionResolver, ResolvedFunction } from "./function-resolver.ts";
import { invocationRecord } from "./invocation-record.ts";
import { type LiveLogs, liveLogLine } from "./live-logs.ts";

export interface InvokerOptions {
  resolver: FunctionResolver;
  providers: readonly CapacityProvider[];
  recorder: Recorder;
  liveLogs: LiveLogs;
  metrics: GatewayMetrics;
  /** Per-invocation cap of stored log bytes. */
  logCapBytes: number;
}

/**
 * Runs one invocation on the provider that supports the version's runtime, and records it:
 * status, code, duration, cold start, sizes and logs. Errors the function caused come back as
 * results with a code; only platform faults throw.
 */
export class Invoker {
  readonly #options: InvokerOptions;

  constructor(options: InvokerOptions) {
    this.#options = options;
  }

  async invoke(
    resolved: ResolvedFunction,
    request: InvocationRequest,
    signal?: CallerSignal,
  ): Promise<InvocationResult> {
    const started = Date.now();
    const t0 = performance.now();
    let result: InvocationResult;
    try {
      const target = await this.#options.resolver.target(resolved);
      const provider = this.#options.providers.find((p) => p.supports(target.runtime));
      if (!provider) {
        throw new KumoError(
          "FN_008",
          `no capacity for runtime "${target.runtime}" on this gateway (container runtimes are not part of this release yet)`,
        );
      }
      result = await provider.invoke(target, request, signal);
    } catch (error) {
      result = errorResult(toKumoError(error).toJSON());
    }
    const finish = (responseBytes: number) =>
      this.#record(resolved, request, result, started, performance.now() - t0, responseBytes);
    if (result.body instanceof Uint8Array) {
      finish(result.body.byteLength);
      return result;
    }
    // The provider's result is this call's own: its body is swapped in place (a spread is slow on Node 20).
    result.body = countBytes(result.body, finish);
    return result;
  }

  #record(
    resolved: ResolvedFunction,
    request: InvocationRequest,
    result: InvocationResult,
    started: number,
    durationMs: number,
    responseBytes: number,
  ): void {
    const { recorder, liveLogs, metrics, logCapBytes } = this.#options;
    const failed = result.error !== undefined || result.status >= 500;
    const code = result.error?.code ?? null;
    const logs = invocationLogRows(
      { tenantId: resolved.tenantId, functionId: resolved.fn.id, version: resolved.version.version },
      request.invocationId,
      result.logs,
      logCapBytes,
    );
    const record = invocationRecord(resolved, request, started);
    recorder.record(
      Object.assign(record, {
        status: failed ? ("failed" as const) : ("succeeded" as const),
        error_code: code,
        error_message: result.error?.message ?? null,
        status_code: result.status,
        duration_ms: Math.round(durationMs * 1000) / 1000,
        cold_start: result.coldStart,
        queue_ms: result.queueMs,
        cpu_ms: result.usage?.cpuMs ?? null,
        memory_bytes: result.usage?.memoryBytes ?? null,
        response_bytes: responseBytes,
        finished_at: new Date(started + durationMs),
      }),
      logs,
    );
    liveLogs.publish(resolved.tenantId, resolved.fn.id, logs.map(liveLogLine));
    metrics.invocations.inc({
      function_id: resolved.fn.id,
      outcome: failed ? "failed" : "succeeded",
      code: code ?? "",
    });
    metrics.observeInvocation(
      { function_id: resolved.fn.id, cold: result.coldStart },
      durationMs / 1000,
      record.trace_id,
    );
  }
}

async function* countBytes(
  body: AsyncIterable<Uint8Array>,
  done: (bytes: number) => void,
): AsyncIterable<Uint8Array> {
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.byteLength;
      yield chunk;
    }
  } finally {
    done(bytes);
  }
}
