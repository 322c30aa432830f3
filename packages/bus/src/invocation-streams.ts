import {
  AckPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { streams, subjects } from "./subjects.ts";

export interface InvocationStreamsOptions {
  namespace?: string;
  /** JetStream's own dedupe window for the message id (the invocation id). */
  duplicateWindowMs?: number;
  /** How long dead letters are kept. */
  deadLetterMaxAgeMs?: number;
  /** Copies of each stream (see streamReplicas); 1 when absent. */
  replicas?: number;
}

/**
 * Creates (or updates) the async invocation stream (a work queue: a message is gone once a node
 * acks it), the destinations stream (webhook deliveries still to be made, also a work queue) and the
 * dead-letter stream (kept, listed and redriven through the API). Idempotent; the gateway and every
 * autoscaler call it on start.
 */
export async function ensureInvocationStreams(
  jsm: JetStreamManager,
  options: InvocationStreamsOptions = {},
): Promise<void> {
  const ns = options.namespace ?? "";
  const num_replicas = options.replicas ?? 1;
  await ensureStream(jsm, {
    name: streams.invocations(ns),
    num_replicas,
    subjects: [subjects.asyncInvokeAll(ns)],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(options.duplicateWindowMs ?? 120_000),
  });
  await ensureStream(jsm, {
    name: streams.destinations(ns),
    num_replicas,
    subjects: [subjects.destinations(ns)],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(options.duplicateWindowMs ?? 120_000),
    // A delivery no node could make (every node down) is given up as late as a dead letter expires.
    max_age: nanos(options.deadLetterMaxAgeMs ?? 14 * 86_400_000),
  });
  await ensureStream(jsm, {
    name: streams.deadLetters(ns),
    num_replicas,
    subjects: [subjects.deadLetterAll(ns)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(options.deadLetterMaxAgeMs ?? 14 * 86_400_000),
  });
}

/** The durable pull consumer of the invocations stream every autoscaler node shares. */
export function ensureInvocationConsumer(
  jsm: JetStreamManager,
  options: { namespace?: string; ackWaitMs: number; maxAckPending?: number },
): Promise<void> {
  return ensureConsumer(
    jsm,
    streams.invocations(options.namespace ?? ""),
    streams.invocationConsumer,
    options,
  );
}

/** The durable pull consumer of the destinations stream every autoscaler node shares. */
export function ensureDestinationConsumer(
  jsm: JetStreamManager,
  options: { namespace?: string; ackWaitMs: number },
): Promise<void> {
  return ensureConsumer(
    jsm,
    streams.destinations(options.namespace ?? ""),
    streams.destinationConsumer,
    options,
  );
}

async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  options: { ackWaitMs: number; maxAckPending?: number },
): Promise<void> {
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(options.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: options.maxAckPending ?? 20_000,
  };
  try {
    await jsm.consumers.info(stream, durable);
    await jsm.consumers.update(stream, durable, {
      ack_wait: config.ack_wait,
      max_ack_pending: config.max_ack_pending,
    });
  } catch {
    await jsm.consumers.add(stream, config);
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (error) {
    if (!/not found/i.test(String(error))) throw error;
    await jsm.streams.add(config);
  }
}

/**
 * Deletes every stream and bucket of one namespace (an installation being removed, or a test's):
 * invocations, destinations, dead letters, tenant queues, idempotency keys and large async payloads.
 */
export async function deleteNamespaceStreams(jsm: JetStreamManager, namespace: string): Promise<void> {
  for (const name of [
    streams.invocations(namespace),
    streams.deadLetters(namespace),
    streams.destinations(namespace),
    streams.queues(namespace),
    streams.queueDeadLetters(namespace),
    // The KV and object store buckets are streams with these prefixes.
    `KV_${streams.idempotency(namespace)}`,
    `OBJ_${streams.payloads(namespace)}`,
    `KV_${streams.schedulerLease(namespace)}`,
  ])
    await jsm.streams.delete(name).catch(() => {});
}
