import { maxHeaderSize } from "node:http";
import { headers as H } from "@kumo/bus";
import type {
  CallerSignal,
  CapacityProvider,
  ErrorBody,
  InvocationRequest,
  InvocationResult,
  Runtime,
} from "@kumo/core";
import {
  checkFunctionResponse,
  errorResult,
  HOP_BY_HOP_HEADERS,
  headerPairs,
  isEdgeRuntime,
  KumoError,
  RESPONSE_LIMITS,
  toKumoError,
} from "@kumo/core";
import {
  ATTR,
  childOf,
  contextOf,
  endSpan,
  type Span,
  SpanKind,
  type Tracer,
  traceparentOf,
  tracerFor,
} from "@kumo/telemetry";
import type { Fleet } from "./fleet.ts";
import { messageOf } from "./instance.ts";
import { takeUsage } from "./invocation-usage.ts";
import type { Lease } from "./pool.ts";
import { type AbortCall, ShimClient, type ShimResponse } from "./shim-client.ts";
import type { VersionSpec } from "./version-catalog.ts";

/** One call to a version's shim: the sync server passes the gateway's request body on as it is pulled. */
export interface InvocationCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
  deadline: number;
}

/**
 * A container invocation whose response head has arrived (checked, per-hop headers dropped): its
 * body is the shim's response, read once, then `finish()`ed exactly once.
 */
export interface OpenInvocation extends InvocationResult {
  body: ShimResponse;
  /** The error a failure while reading the body means (timeout, crash, OOM, not HTTP). */
  failure(error: unknown): Promise<ErrorBody>;
  finish(): void;
}

export function isOpenInvocation(result: InvocationResult): result is OpenInvocation {
  return "finish" in result;
}

/**
 * The container pools of this node as a CapacityProvider: a slot in the version's pool, the call
 * over the unix socket, a deadline that aborts it (FN_002), and the container's fate deciding the
 * code when the call breaks (FN_003 OOM, FN_004 process exited). The async worker uses `invoke`
 * (whole bodies); the sync server uses `open`, to forward the response frame by frame.
 */
export class FleetProvider implements CapacityProvider {
  readonly name = "container";
  readonly #fleet: Fleet;

  constructor(fleet: Fleet) {
    this.#fleet = fleet;
  }

  supports(runtime: Runtime): boolean {
    return !isEdgeRuntime(runtime);
  }

  holdsCapacity(target: VersionSpec): boolean {
    return this.#fleet.concurrencyShare(target) > 0;
  }

  async invoke(
    target: VersionSpec,
    request: InvocationRequest,
    signal?: CallerSignal,
  ): Promise<InvocationResult> {
    const headers: Record<string, string> = Object.assign({}, request.headers);
    headers[H.deadlineMs] = String(request.deadline);
    if (request.body) headers["content-length"] = String(request.body.byteLength);
    const call = {
      method: request.method,
      url: request.url,
      headers,
      body: request.body,
      deadline: request.deadline,
    };
    const open = await this.open(target, call, signal);
    if (!isOpenInvocation(open)) return open;
    try {
      const body = await ShimClient.read(open.body);
      return {
        status: open.status,
        headers: open.headers,
        body,
        coldStart: open.coldStart,
        queueMs: open.queueMs,
        logs: open.logs,
        ...(open.usage ? { usage: open.usage } : {}),
      };
    } catch (error) {
      return errorResult(await open.failure(error), open.coldStart, open.queueMs);
    } finally {
      open.finish();
    }
  }

  /** Starts the call; an invocation that fails before a usable response is an error result. */
  async open(
    spec: VersionSpec,
    call: InvocationCall,
    signal?: CallerSignal,
  ): Promise<(InvocationResult & { error: ErrorBody }) | OpenInvocation> {
    const pool = this.#fleet.pool(spec);
    const tracer = tracerFor(call.headers.traceparent);
    const acquiring = tracer ? acquireSpan(tracer, call.headers.traceparent) : undefined;
    let lease: Lease;
    try {
      lease = await pool.acquire(call.deadline);
    } catch (error) {
      const body = errorBody(error);
      if (acquiring) endSpan(acquiring, body);
      return errorResult(body);
    }
    this.#fleet.noteColdStart(spec, lease.coldStart);
    const { instance, coldStart, queueMs } = lease;
    let shim: Span | undefined;
    let shimHeaders = call.headers;
    if (tracer && acquiring) {
      endAcquireSpan(tracer, acquiring, lease);
      shim = tracer.startSpan(
        "shim call",
        {
          kind: SpanKind.CLIENT,
          attributes: { [ATTR.httpMethod]: call.method, "network.transport": "unix" },
        },
        contextOf(call.headers.traceparent),
      );
      // The function continues the trace from the shim call (header for HTTP, context for events).
      shimHeaders = Object.assign({}, call.headers, { traceparent: traceparentOf(shim) });
    }
    // The deadline and the caller's signal end the call by aborting it (and with it the response
    // being read), as a `signal` option would, without an AbortController per call.
    let abort: AbortCall | undefined;
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        abort?.(new Error("the invocation's deadline passed"));
      },
      Math.max(1, call.deadline - Date.now()),
    );
    const onCancel = () => abort?.(new Error("the caller went away"));
    signal?.addEventListener("abort", onCancel, { once: true });
    let finished = false;
    let broken = false;
    let failed: ErrorBody | undefined;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (shim) endSpan(shim, failed);
      clearTimeout(timer);
      signal?.removeEventListener("abort", onCancel);
      pool.release(lease, broken);
    };
    const failure = async (error: unknown): Promise<ErrorBody> => {
      failed = await failureOf(error);
      return failed;
    };
    const failureOf = async (error: unknown): Promise<ErrorBody> => {
      if (timedOut) {
        // A handler that hangs its process (a busy loop) would hold the slot forever: recycle it.
        if (!(await instance.responsive(500))) broken = true;
        return {
          code: "FN_002",
          message: `the function did not finish within its timeout of ${spec.config.timeoutMs} ms`,
        };
      }
      if (signal?.aborted) return { code: "FN_008", message: "the caller went away" };
      // The function's own server answered with something that is not HTTP (a custom image can):
      // its fault, and its instance is fine.
      const unparsable = parseFailure(error);
      if (unparsable) return unparsable;
      const exit = await Promise.race([
        instance.exited,
        new Promise<null>((r) => setTimeout(() => r(null), 2000)),
      ]);
      broken = true;
      if (exit?.oomKilled)
        return {
          code: "FN_003",
          message: `the function ran out of memory (limit ${spec.config.memoryMb} MB); its instance was replaced`,
        };
      if (exit)
        return {
          code: "FN_004",
          message: `the function's process exited with code ${exit.exitCode} during the invocation; its instance was replaced`,
        };
      return {
        code: "FN_008",
        message: `lost the connection to the function's container: ${messageOf(error)}`,
      };
    };
    let response: ShimResponse;
    try {
      response = await instance.client.call({
        method: call.method,
        path: `/invoke${call.url.startsWith("/") ? "" : "/"}${call.url}`,
        headers: shimHeaders,
        body: call.body,
        onRequest: (a) => {
          abort = a;
          if (timedOut) a(new Error("the invocation's deadline passed"));
          else if (signal?.aborted) onCancel();
        },
      });
    } catch (error) {
      const body = await failure(error);
      finish();
      return errorResult(body, coldStart, queueMs);
    }
    const headers = headerPairs(response.rawHeaders, HOP_BY_HOP_HEADERS);
    shim?.setAttribute(ATTR.httpStatus, response.statusCode ?? 502);
    const problem = checkFunctionResponse(response.statusCode, headers);
    if (problem) {
      failed = problem;
      // Never passed on as the function's result (a 1xx would leave the client waiting for the
      // real response): the error is. What is left of the response is dropped with its connection.
      response.destroy();
      finish();
      return errorResult(problem, coldStart, queueMs);
    }
    const usage = takeUsage(headers);
    return {
      status: response.statusCode ?? 502,
      headers,
      body: response,
      coldStart,
      queueMs,
      logs: [],
      ...(usage ? { usage } : {}),
      failure,
      finish,
    };
  }

  /** The fleet's pools belong to the node, which stops them. */
  async stop(): Promise<void> {}
}

/** The span of waiting for a slot in the version's pool, a child of the invocation's span. */
function acquireSpan(tracer: Tracer, traceparent: string | undefined): Span {
  return tracer.startSpan("pool acquire", undefined, contextOf(traceparent));
}

/**
 * Ends the acquire span with what the wait was: a warm slot, or a cold start of its kind (new
 * container, stem cell, unpaused), shown as a child span over the wait for the instance.
 */
function endAcquireSpan(tracer: Tracer, span: Span, lease: Lease): void {
  span.setAttributes({
    [ATTR.faasColdstart]: lease.coldStart !== "warm",
    [ATTR.coldStartKind]: lease.coldStart,
    [ATTR.queueMs]: lease.queueMs,
  });
  if (lease.coldStart !== "warm") {
    const start = Date.now() - lease.queueMs;
    tracer
      .startSpan(
        `cold start ${lease.coldStart}`,
        { startTime: start, attributes: { [ATTR.coldStartKind]: lease.coldStart } },
        childOf(span),
      )
      .end();
  }
  span.end();
}

/**
 * What a response the shim client could not take means: oversized headers (FN_010), or not HTTP
 * (FN_004: bytes the parser refused, a 100 Continue nobody asked for, or a 101 upgrade).
 */
function parseFailure(error: unknown): ErrorBody | undefined {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  if (code === "UND_ERR_HEADERS_OVERFLOW")
    return {
      code: "FN_010",
      message: `the function's response headers exceed ${maxHeaderSize} bytes; the limit is ${RESPONSE_LIMITS.headerBytes} bytes`,
    };
  const message = messageOf(error);
  if (code?.startsWith("HPE_"))
    return { code: "FN_004", message: `the function's response is not valid HTTP/1.1: ${message}` };
  if (code === "UND_ERR_SOCKET" && message === "bad upgrade") return checkFunctionResponse(101, []);
  if (code === "UND_ERR_SOCKET" && message === "bad response")
    return { code: "FN_004", message: "the function's response is not valid HTTP/1.1: an unexpected 1xx" };
  return undefined;
}

/** Anything thrown, as the error it crosses boundaries as; unknown errors are platform faults. */
export function errorBody(error: unknown): ErrorBody {
  if (error instanceof KumoError) return error.toJSON();
  // A database that is down (restarting, failing over) is FN_008, retry: not a platform defect.
  const coded = toKumoError(error);
  return coded.code === "FN_500" ? { code: "FN_500", message: messageOf(error) } : coded.toJSON();
}
