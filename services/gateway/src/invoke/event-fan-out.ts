import { eventInvocation } from "@kumo/bus";
import { type FunctionConfig, KumoError, matchesEventPattern } from "@kumo/core";
import type { NewEventDelivery, TenantStore } from "@kumo/db";
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
import type { GatewayContext } from "../context.ts";
import type { ResolvedFunction } from "./function-resolver.ts";

/** A published event, as the fan-out sends it. */
export interface PublishedEvent {
  id: string;
  type: string;
  data: unknown;
  publishedAt: Date;
  /** The publisher's trace context: the event's span joins it (a trace of its own without one). */
  traceparent?: string | undefined;
}

export interface FanOutResult {
  deliveries: (NewEventDelivery & { functionName: string })[];
  /** Matching triggers that could not be invoked (their target has no version), with the reason. */
  skipped: { triggerId: string; functionName: string; reason: string }[];
}

/**
 * Sends one event to every unpaused event trigger of the tenant whose pattern matches its type,
 * each as its own async invocation (so each retries on its own). Message ids `eventId:triggerId`
 * let JetStream drop a repeat within its duplicate window. Fails (FN_008) when any message could
 * not be queued: the caller stores nothing then, and a retry with the same id sends only what is
 * missing.
 */
export async function fanOutEvent(
  ctx: GatewayContext,
  store: TenantStore,
  tenantName: string,
  event: PublishedEvent,
): Promise<FanOutResult> {
  const matching = (await store.events.subscribers()).filter(
    (t) => t.event_pattern !== null && matchesEventPattern(t.event_pattern, event.type),
  );
  const result: FanOutResult = { deliveries: [], skipped: [] };
  if (matching.length === 0) return result;
  const queue = ctx.asyncQueue;
  if (!queue) {
    throw new KumoError(
      "FN_008",
      "publishing events needs NATS with JetStream, which this gateway runs without",
    );
  }
  // While tracing is on: one span for the event, and under it one per delivery, linked to it; each
  // delivery's invocation (its publish to the stream and every attempt) continues from its span.
  const tracer = tracerFor(event.traceparent);
  const eventSpan = tracer?.startSpan(
    `publish event ${event.type}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [ATTR.tenantId]: store.tenantId,
        [ATTR.eventId]: event.id,
        [ATTR.eventType]: event.type,
        "kumo.event.subscribers": matching.length,
      },
    },
    contextOf(event.traceparent),
  );
  const sent = await Promise.allSettled(
    matching.map(async (trigger) => {
      let resolved: ResolvedFunction;
      try {
        resolved = await ctx.resolver.resolve(
          store.tenantId,
          tenantName,
          `${trigger.function_name}@${trigger.target}`,
        );
      } catch (error) {
        // A subscriber not deployed yet (or pinned to a version that is gone) misses the event;
        // the others still get it.
        if (!(error instanceof KumoError && error.code === "FN_001")) throw error;
        result.skipped.push({
          triggerId: trigger.id,
          functionName: trigger.function_name,
          reason: error.message,
        });
        return;
      }
      const deployed = await ctx.resolver.target(resolved);
      const delivery = deliverySpan(tracer, eventSpan, event, trigger.id, trigger.function_name);
      const { request, msgId } = eventInvocation(
        {
          triggerId: trigger.id,
          eventId: event.id,
          eventType: event.type,
          data: event.data,
          publishedAt: event.publishedAt,
        },
        (resolved.version.config as FunctionConfig).timeoutMs,
      );
      if (delivery) request.traceparent = traceparentOf(delivery);
      let queued: Awaited<ReturnType<typeof queue.enqueue>>;
      try {
        queued = await queue.enqueue(resolved, deployed, request, undefined, {
          msgId,
          triggerId: trigger.id,
          recordQueued: false,
        });
      } catch (error) {
        if (delivery) endSpan(delivery, error);
        throw error;
      }
      if (delivery) {
        delivery.setAttribute(ATTR.faasInvocationId, queued.invocationId);
        endSpan(delivery);
      }
      result.deliveries.push({
        triggerId: trigger.id,
        functionId: trigger.function_id,
        functionName: trigger.function_name,
        invocationId: queued.invocationId,
      });
    }),
  );
  const failed = sent.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (eventSpan) {
    eventSpan.setAttribute("kumo.event.deliveries", result.deliveries.length);
    endSpan(eventSpan, failed?.reason);
  }
  if (failed) {
    const reason: unknown = failed.reason;
    throw reason instanceof KumoError
      ? reason
      : new KumoError("FN_008", `could not queue the event's deliveries: ${String(reason)}`, {
          cause: reason,
        });
  }
  result.deliveries.sort((a, b) => a.triggerId.localeCompare(b.triggerId));
  return result;
}

/** One delivery of an event: a child of the event's span that also links to it (the fan-out's edge). */
function deliverySpan(
  tracer: Tracer | undefined,
  eventSpan: Span | undefined,
  event: PublishedEvent,
  triggerId: string,
  functionName: string,
): Span | undefined {
  if (!tracer || !eventSpan) return undefined;
  return tracer.startSpan(
    `deliver event ${event.type}`,
    {
      kind: SpanKind.PRODUCER,
      links: [{ context: eventSpan.spanContext(), attributes: { [ATTR.eventId]: event.id } }],
      attributes: {
        [ATTR.eventId]: event.id,
        [ATTR.eventType]: event.type,
        [ATTR.triggerId]: triggerId,
        [ATTR.faasInvokedName]: functionName,
      },
    },
    childOf(eventSpan),
  );
}
