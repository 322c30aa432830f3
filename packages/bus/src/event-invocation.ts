import { type InvocationRequest, invocationIdFor } from "@kumo/core";
import { eventRequest } from "./event-request.ts";

/** One event reaching one subscribing trigger. */
export interface EventDeliveryInput {
  triggerId: string;
  eventId: string;
  eventType: string;
  data: unknown;
  publishedAt: Date;
}

/** The JSON event an event-triggered function receives (with `kumo-event-type: event`). */
export interface DomainEvent {
  type: "event";
  triggerId: string;
  eventId: string;
  eventType: string;
  data: unknown;
  publishedAt: string;
}

/**
 * The async invocation of one delivery and its JetStream dedupe id `eventId:triggerId`; the
 * invocation id is derived from it, so the same event published twice within the stream's
 * duplicate window is stored once by the stream and recorded once, while every subscriber gets its
 * own invocation (and its own retries).
 */
export function eventInvocation(
  delivery: EventDeliveryInput,
  timeoutMs: number,
): { request: InvocationRequest; msgId: string } {
  const msgId = `${delivery.eventId}:${delivery.triggerId}`;
  const invocationId = invocationIdFor(msgId);
  const event: DomainEvent = {
    type: "event",
    triggerId: delivery.triggerId,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    data: delivery.data ?? null,
    publishedAt: delivery.publishedAt.toISOString(),
  };
  const deadline = Date.now() + timeoutMs;
  return { request: eventRequest("event", invocationId, event, deadline), msgId };
}
