import { type Consumer, decodeQueueMessage, type JsMsg, type TenantQueues } from "@kumo/bus";
import type { QueueSource, SourceMessage } from "./queue-source.ts";

export interface JetStreamQueueSourceOptions {
  queues: TenantQueues;
  triggerId: string;
  tenantId: string;
  queue: string;
  /** Un-acked messages come back this long after their last sign of life (a crashed scheduler). */
  ackWaitMs: number;
  /** How long one wait for a first message lasts (bounds how long a stop waits). */
  pollMs: number;
}

interface JetStreamMessage extends SourceMessage {
  msg: JsMsg;
}

/**
 * A tenant queue in JetStream, read through the trigger's durable pull consumer. Deliveries are
 * JetStream's own count, so they survive a scheduler's crash; a retry is a nak with a delay.
 */
export class JetStreamQueueSource implements QueueSource {
  readonly #options: JetStreamQueueSourceOptions;
  #consumer: Consumer | undefined;
  readonly broken = undefined;

  constructor(options: JetStreamQueueSourceOptions) {
    this.#options = options;
  }

  async open(): Promise<void> {
    const { queues, triggerId, tenantId, queue, ackWaitMs } = this.#options;
    // Room for a whole batch in flight plus a whole batch held back (ordered triggers).
    await queues.ensureConsumer(triggerId, tenantId, queue, { ackWaitMs, maxAckPending: 20_000 });
    this.#consumer = await queues.consumer(triggerId);
  }

  async collect(max: number, windowMs: number): Promise<SourceMessage[]> {
    const consumer = this.#required();
    const first = await consumer.next({ expires: Math.max(1000, this.#options.pollMs) });
    if (!first) return [];
    const batch: SourceMessage[] = [this.#message(first)];
    const deadline = Date.now() + windowMs;
    let pending = first.info.pending;
    while (batch.length < max) {
      const remaining = deadline - Date.now();
      if (pending === 0 && remaining <= 0) break;
      // Messages known to wait are fetched at once; more (new ones, retries coming due, which
      // `pending` does not count) are waited for within the window. A pull request lasts at least
      // a second, so a window under 1 s waits up to 1 s when the batch is not full.
      const wanted = pending > 0 ? Math.min(max - batch.length, pending) : max - batch.length;
      const expires = pending > 0 ? 1000 : Math.max(1000, remaining);
      let got = 0;
      for await (const msg of await consumer.fetch({ max_messages: wanted, expires })) {
        batch.push(this.#message(msg));
        pending = msg.info.pending;
        got++;
      }
      if (got === 0) pending = 0;
      if (pending === 0 && deadline - Date.now() <= 0) break;
    }
    return batch;
  }

  keepAlive(messages: readonly SourceMessage[]): void {
    for (const m of messages) (m as JetStreamMessage).msg.working();
  }

  async ack(message: SourceMessage): Promise<void> {
    (message as JetStreamMessage).msg.ack();
  }

  async retry(message: SourceMessage, delayMs: number): Promise<void> {
    (message as JetStreamMessage).msg.nak(delayMs);
  }

  lag(): Promise<number | null> {
    return this.#options.queues.lag(this.#options.triggerId);
  }

  async close(): Promise<void> {
    this.#consumer = undefined;
  }

  #message(msg: JsMsg): JetStreamMessage {
    const stored = decodeQueueMessage(msg.data);
    return {
      msg,
      ref: msg.info.streamSequence,
      id: stored.id,
      key: stored.key,
      data: stored.data,
      publishedAt: stored.publishedAt || null,
      deliveries: msg.info.deliveryCount,
    };
  }

  #required(): Consumer {
    if (!this.#consumer) throw new Error("the queue source is not open");
    return this.#consumer;
  }
}
