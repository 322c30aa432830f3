import {
  type Context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  trace,
} from "@opentelemetry/api";
import { parseTraceParent } from "@opentelemetry/core";

/**
 * W3C trace context as Kumo carries it: one `traceparent` string in the invocation's headers, which
 * travel inside the invocation frame (sync NATS requests, async JetStream messages, dead letters and
 * redrives alike), so every hop reads the context from the same place the function finally does.
 */

const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;

/** The traceparent header value naming this span as the parent. */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The remote span context of a traceparent, or undefined when it is absent or malformed. */
export function spanContextOf(traceparent: string | undefined): SpanContext | undefined {
  if (!traceparent) return undefined;
  const parsed = parseTraceParent(traceparent);
  if (!parsed) return undefined;
  const remote: SpanContext = { ...parsed, isRemote: true };
  return isSpanContextValid(remote) ? remote : undefined;
}

/** The context a child span of `traceparent` starts in (a new trace when there is none). */
export function contextOf(traceparent: string | undefined): Context {
  const parent = spanContextOf(traceparent);
  return parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}

/** The trace id (32 hex digits) of a traceparent, as invocation records store it. */
export function traceIdOf(traceparent: string | undefined): string | null {
  if (!traceparent) return null;
  const id = traceparent.split("-")[1];
  return id !== undefined && TRACE_ID.test(id) ? id : null;
}

/** A copy of `headers` whose traceparent names `span`; the original (a caller's object) is left alone. */
export function withTraceparent(
  headers: Readonly<Record<string, string>>,
  span: Span,
): Record<string, string> {
  const copy: Record<string, string> = Object.assign({}, headers);
  copy.traceparent = traceparentOf(span);
  return copy;
}

/** The context a child span of `span` (one of this process's) starts in. */
export function childOf(span: Span): Context {
  return trace.setSpan(ROOT_CONTEXT, span);
}
