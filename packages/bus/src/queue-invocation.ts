import { createHash } from "node:crypto";
import { type InvocationRequest, invocationIdFor } from "@kumo/core";
import { eventRequest } from "./event-request.ts";

/** One message of a batch as the function receives it. */
export interface QueueEventMessage {
  id: string;
  key: string | null;
  data: unknown;
  publishedAt: string | null;
  /** How many times this message was handed to the function, this time included. */
  deliveries: number;
}

/** The JSON event a queue-triggered function receives (with `kumo-event-type: queue`). */
export interface QueueEvent {
  type: "queue";
  triggerId: string;
  queue: string;
  messages: QueueEventMessage[];
}

/** One batch of a queue trigger. */
export interface QueueBatchInput {
  triggerId: string;
  queue: string;
  messages: QueueEventMessage[];
  /**
   * What names the batch's messages at the source (JetStream stream sequences, or the broker's
   * message ids), in batch order.
   */
  refs: readonly (string | number)[];
  /** The delivery round: a retried batch is a new invocation, a re-published one is not. */
  round: number;
}

/**
 * The async invocation of one batch and its JetStream dedupe id, derived from the trigger, the
 * batch's messages and the delivery round: publishing the same batch again (a retried publish, a
 * scheduler that took over an in-flight batch) is stored once by the stream and recorded once.
 */
export function queueInvocation(
  batch: QueueBatchInput,
  timeoutMs: number,
): { request: InvocationRequest; msgId: string } {
  const digest = createHash("sha256").update(batch.refs.join(",")).digest("hex").slice(0, 32);
  const msgId = `queue:${batch.triggerId}:${digest}:${batch.round}`;
  const invocationId = invocationIdFor(msgId);
  const event: QueueEvent = {
    type: "queue",
    triggerId: batch.triggerId,
    queue: batch.queue,
    messages: batch.messages,
  };
  const deadline = Date.now() + timeoutMs;
  return { request: eventRequest("queue", invocationId, event, deadline), msgId };
}
