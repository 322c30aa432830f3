import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import { streamReplicas } from "./replicas.ts";
import { type StreamAck, StreamPublisher } from "./stream-publisher.ts";
import { queueNameOfSubject, streams, subjects } from "./subjects.ts";

export interface TenantQueuesOptions {
  nc: NatsConnection;
  namespace: string;
  /** How long a message waits in its queue (read or not): a trigger created later still gets it. */
  maxAgeMs?: number;
  /**
   * Bytes all tenants' queues may hold; a full stream refuses publishes (nothing is dropped).
   * Unlimited by default: a byte limit is reserved from the server's JetStream storage when the
   * stream is created, so a large default would fail on a small disk (and for several
   * installations or test runs sharing one NATS server); the per-queue message limit and the age
   * limit bound a queue anyway.
   */
  maxBytes?: number;
  /** Messages one queue may hold; a full queue refuses publishes. */
  maxMessagesPerQueue?: number;
  /** How long a message id dedupes a repeated publish. */
  duplicateWindowMs?: number;
}

/** One message as it is stored in a tenant queue and handed to a queue-triggered function. */
export interface QueueMessage {
  id: string;
  /** Ordering key: ordered triggers process messages of one key in publish order. */
  key: string | null;
  data: unknown;
  publishedAt: string;
}

export interface PublishedQueueMessage {
  id: string;
  seq: number;
  /** The id was published before (within the duplicate window): not stored again. */
  duplicate: boolean;
}

/** A tenant's queue as the stream holds it. */
export interface QueueDepth {
  queue: string;
  /** Messages held (read or not; kept for `maxAgeMs`). */
  messages: number;
}

/** A queue message a trigger gave up on, as the dead-letter stream keeps it. */
export interface QueueDeadLetter extends QueueMessage {
  seq: number;
  triggerId: string;
  functionId: string;
  deliveries: number;
  reason: string;
  deadAt: string;
  /** Set for a queue on an external broker ("rabbitmq"); absent for Kumo's own queues. */
  broker?: string;
}

const DAY_MS = 86_400_000;

/**
 * Tenant queues in JetStream: one stream for every tenant's queues (subject per tenant and queue,
 * limits retention so messages wait for triggers created later), durable consumers per queue
 * trigger, and a dead-letter stream for messages a trigger gave up on. The gateway publishes and
 * lists through it; the scheduler consumes.
 */
export class TenantQueues {
  readonly #options: TenantQueuesOptions;
  #jsm: JetStreamManager | undefined;
  #js: JetStreamClient | undefined;
  #publisher: StreamPublisher | undefined;

  constructor(options: TenantQueuesOptions) {
    this.#options = options;
  }

  get namespace(): string {
    return this.#options.namespace;
  }

  /** Creates (or updates) the queue and dead-letter streams. Idempotent. */
  async start(): Promise<void> {
    const jsm = await jetstreamManager(this.#options.nc);
    this.#jsm = jsm;
    this.#js = jetstream(this.#options.nc);
    await ensureQueueStreams(jsm, this.#options, streamReplicas(this.#options.nc));
    this.#publisher = new StreamPublisher(this.#options.nc);
  }

  stop(): void {
    this.#publisher?.stop();
  }

  /**
   * Appends messages to a tenant's queue in the given order; resolves once the stream stored each
   * (or recognised its id as a duplicate). The dedupe id is scoped by tenant and queue.
   */
  async publish(
    tenantId: string,
    queue: string,
    messages: readonly Omit<QueueMessage, "publishedAt">[],
    publishedAt = new Date(),
  ): Promise<PublishedQueueMessage[]> {
    const publisher = this.#required(this.#publisher);
    const subject = subjects.queue(tenantId, queue, this.#options.namespace);
    // Issued in order on one connection, so the stream stores them in this order.
    const acks: Promise<StreamAck>[] = messages.map((m) =>
      publisher.publish(
        subject,
        encodeQueueMessage({ ...m, publishedAt: publishedAt.toISOString() }),
        `${tenantId}:${queue}:${m.id}`,
      ),
    );
    const settled = await Promise.all(acks);
    return settled.map((ack, i) => ({ id: messages[i]?.id ?? "", seq: ack.seq, duplicate: ack.duplicate }));
  }

  /** The tenant's queues that hold messages, with how many. */
  async depths(tenantId: string): Promise<QueueDepth[]> {
    const jsm = this.#required(this.#jsm);
    const info = await jsm.streams.info(streams.queues(this.#options.namespace), {
      subjects_filter: subjects.queueTenant(tenantId, this.#options.namespace),
    });
    return Object.entries(info.state.subjects ?? {})
      .map(([subject, messages]) => ({ queue: queueNameOfSubject(subject), messages }))
      .sort((a, b) => a.queue.localeCompare(b.queue));
  }

  /** Messages the trigger's consumer has not finished (not yet delivered, or delivered and unacked). */
  async lag(triggerId: string): Promise<number | null> {
    const jsm = this.#required(this.#jsm);
    try {
      const info = await jsm.consumers.info(
        streams.queues(this.#options.namespace),
        streams.queueConsumer(triggerId),
      );
      return info.num_pending + info.num_ack_pending;
    } catch {
      return null;
    }
  }

  /** Creates the trigger's durable consumer if it does not exist; a new one reads every message held. */
  async ensureConsumer(
    triggerId: string,
    tenantId: string,
    queue: string,
    options: { ackWaitMs: number; maxAckPending: number },
  ): Promise<void> {
    const jsm = this.#required(this.#jsm);
    const stream = streams.queues(this.#options.namespace);
    const name = streams.queueConsumer(triggerId);
    try {
      await jsm.consumers.info(stream, name);
      await jsm.consumers.update(stream, name, {
        ack_wait: nanos(options.ackWaitMs),
        max_ack_pending: options.maxAckPending,
      });
    } catch (error) {
      if (!/not found/i.test(String(error))) throw error;
      await jsm.consumers.add(stream, {
        durable_name: name,
        filter_subject: subjects.queue(tenantId, queue, this.#options.namespace),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(options.ackWaitMs),
        // Redelivery is bounded by the trigger (maxDeliveries, then a dead letter), not by JetStream.
        max_deliver: -1,
        max_ack_pending: options.maxAckPending,
      });
    }
  }

  /** The trigger's consumer, to pull from. */
  consumer(triggerId: string) {
    return this.#required(this.#js).consumers.get(
      streams.queues(this.#options.namespace),
      streams.queueConsumer(triggerId),
    );
  }

  /** Trigger ids that have a durable consumer (to remove those whose trigger is gone). */
  async consumerTriggerIds(): Promise<string[]> {
    const jsm = this.#required(this.#jsm);
    const ids: string[] = [];
    const prefix = streams.queueConsumer("");
    for await (const c of jsm.consumers.list(streams.queues(this.#options.namespace))) {
      if (c.name.startsWith(prefix)) ids.push(c.name.slice(prefix.length));
    }
    return ids;
  }

  async deleteConsumer(triggerId: string): Promise<void> {
    await this.#required(this.#jsm)
      .consumers.delete(streams.queues(this.#options.namespace), streams.queueConsumer(triggerId))
      .catch((error: unknown) => {
        if (!/not found/i.test(String(error))) throw error;
      });
  }

  /** Keeps a message the trigger gave up on, where the tenant can list it. */
  async deadLetter(tenantId: string, queue: string, letter: Omit<QueueDeadLetter, "seq">): Promise<void> {
    await this.#required(this.#js).publish(
      subjects.queueDeadLetter(tenantId, queue, this.#options.namespace),
      JSON.stringify(letter),
      // A dead letter written twice (a crash before the ack) is kept once.
      { msgID: `${letter.triggerId}:${letter.id}:${letter.deliveries}` },
    );
  }

  /** The queue's dead letters, oldest first, from the stream sequence `after` on. */
  async deadLetters(
    tenantId: string,
    queue: string,
    page: { after: number; limit: number },
  ): Promise<{ items: QueueDeadLetter[]; next: number | null }> {
    const jsm = this.#required(this.#jsm);
    const stream = streams.queueDeadLetters(this.#options.namespace);
    const subject = subjects.queueDeadLetter(tenantId, queue, this.#options.namespace);
    const items: QueueDeadLetter[] = [];
    let seq = page.after + 1;
    while (items.length < page.limit) {
      const stored = await jsm.direct.getMessage(stream, { next_by_subj: subject, seq }).catch(() => null);
      if (!stored) break;
      items.push({
        ...(JSON.parse(new TextDecoder().decode(stored.data)) as QueueDeadLetter),
        seq: stored.seq,
      });
      seq = stored.seq + 1;
    }
    const last = items.at(-1);
    return { items, next: items.length === page.limit && last ? last.seq : null };
  }

  #required<T>(value: T | undefined): T {
    if (value === undefined) throw new Error("tenant queues are not started");
    return value;
  }
}

/** A stored queue message's bytes. */
export function encodeQueueMessage(message: QueueMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message));
}

export function decodeQueueMessage(data: Uint8Array): QueueMessage {
  const parsed = JSON.parse(new TextDecoder().decode(data)) as Partial<QueueMessage>;
  return {
    id: String(parsed.id ?? ""),
    key: typeof parsed.key === "string" ? parsed.key : null,
    data: parsed.data ?? null,
    publishedAt: String(parsed.publishedAt ?? ""),
  };
}

async function ensureQueueStreams(
  jsm: JetStreamManager,
  options: TenantQueuesOptions,
  num_replicas: number,
): Promise<void> {
  const ns = options.namespace;
  const queues = {
    name: streams.queues(ns),
    subjects: [subjects.queueAll(ns)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas,
    max_age: nanos(options.maxAgeMs ?? 7 * DAY_MS),
    max_bytes: options.maxBytes ?? -1,
    max_msgs_per_subject: options.maxMessagesPerQueue ?? 1_000_000,
    // A full queue refuses the publish (the publisher sees it) rather than dropping old messages.
    discard: DiscardPolicy.New,
    discard_new_per_subject: true,
    duplicate_window: nanos(options.duplicateWindowMs ?? 600_000),
    allow_direct: true,
  };
  const deadLetters = {
    name: streams.queueDeadLetters(ns),
    subjects: [subjects.queueDeadLetterAll(ns)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas,
    max_age: nanos(14 * DAY_MS),
    duplicate_window: nanos(600_000),
    allow_direct: true,
  };
  for (const config of [queues, deadLetters]) {
    try {
      await jsm.streams.info(config.name);
      await jsm.streams.update(config.name, config);
    } catch (error) {
      if (!/not found/i.test(String(error))) throw error;
      await jsm.streams.add(config);
    }
  }
}
