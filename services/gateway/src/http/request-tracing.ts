import {
  ATTR,
  activeTracer,
  childOf,
  contextOf,
  endSpan,
  type Span,
  SpanKind,
  traceparentOf,
} from "@kumo/telemetry";
import type { FastifyInstance, FastifyRequest } from "fastify";

/** The server span of one request, and the traceparent its invocation continues from. */
export interface RequestTrace {
  span: Span;
  /** False for a trace that was not sampled: it is only propagated, nothing is recorded. */
  recording: boolean;
  traceparent: string;
  traceId: string;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Present only while tracing is on (see startTelemetry). */
    trace?: RequestTrace | undefined;
  }
}

/**
 * One server span per request, continuing the caller's W3C `traceparent` or starting a trace, named
 * by the matched route and ended when the response is written (invocation responses are written
 * straight to the socket, past fastify's onResponse hooks, so the socket's own events end it).
 * Nothing is registered when tracing is off: requests pay no hook at all.
 */
export function traceRequests(app: FastifyInstance): void {
  const tracer = activeTracer();
  if (!tracer) return;
  app.decorateRequest("trace", undefined);
  app.addHook("onRequest", (request, reply, done) => {
    const caller = request.headers.traceparent;
    const span = tracer.startSpan(
      request.method,
      { kind: SpanKind.SERVER },
      contextOf(typeof caller === "string" ? caller : undefined),
    );
    const recording = span.isRecording();
    request.trace = {
      span,
      recording,
      traceparent: traceparentOf(span),
      traceId: span.spanContext().traceId,
    };
    // An unsampled request carries its trace id on (records, the function) and records nothing.
    if (!recording) {
      done();
      return;
    }
    const route = request.routeOptions.url;
    if (route) span.updateName(`${request.method} ${route}`);
    span.setAttributes({
      [ATTR.httpMethod]: request.method,
      [ATTR.urlPath]: request.url.split("?", 1)[0] ?? "/",
      ...(route ? { [ATTR.httpRoute]: route } : {}),
    });
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const status = reply.raw.statusCode;
      span.setAttribute(ATTR.httpStatus, status);
      endSpan(
        span,
        status >= 500
          ? { code: String(status), message: `HTTP ${status}` }
          : reply.raw.writableFinished
            ? undefined
            : { code: "aborted", message: "the client went away before the response was written" },
      );
    };
    reply.raw.once("finish", end);
    reply.raw.once("close", end);
    done();
  });
}

/** Runs one step of a request (route, resolve, auth) in a span of its own when the request is traced. */
export function traceStep<T>(request: FastifyRequest, name: string, run: () => Promise<T>): Promise<T> {
  const parent = request.trace;
  const tracer = parent?.recording ? activeTracer() : undefined;
  if (!parent || !tracer) return run();
  const span = tracer.startSpan(name, undefined, childOf(parent.span));
  return run().then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      endSpan(span, error);
      throw error;
    },
  );
}
