import {
  type ConsumerMessages,
  ensureDestinationConsumer,
  ensureInvocationStreams,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type NatsConnection,
  PULL_EXPIRES_MS,
  streamReplicas,
  streams,
  subjects,
} from "@kumo/bus";
import type { DestinationKind, DestinationPayload, DestinationSender } from "./destination-sender.ts";

/** One delivery to make: everything the sender needs, so any node can make it. */
export interface DestinationJob {
  kind: DestinationKind;
  url: string;
  payload: DestinationPayload;
  owner: { tenantId: string; functionId: string };
}

export interface DestinationQueueOptions {
  nc: NatsConnection;
  namespace: string;
  sender: DestinationSender;
  /** A delivery not acknowledged within this long (its node died) is made again by another node. */
  ackWaitMs: number;
  /** Deliveries this node makes at once. */
  concurrency: number;
  onError(error: unknown): void;
}

/**
 * Destination webhook deliveries, made durable: the async worker queues a delivery in the
 * destinations stream before it acknowledges the invocation's message, and every node pulls from
 * one shared consumer. A delivery's message is acknowledged once the webhook took it, or refused it,
 * or failed every retry; a node that stops or dies mid-delivery leaves it to another node. So a
 * destination is told at least once (deduplicate by `kumo-invocation-id`).
 */
export class DestinationQueue {
  readonly #options: DestinationQueueOptions;
  #js: JetStreamClient | undefined;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  readonly #running = new Set<Promise<void>>();

  constructor(options: DestinationQueueOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const { nc, namespace } = this.#options;
    const jsm = await jetstreamManager(nc);
    await ensureInvocationStreams(jsm, { namespace, replicas: streamReplicas(nc) });
    await ensureDestinationConsumer(jsm, { namespace, ackWaitMs: this.#options.ackWaitMs });
    this.#js = jetstream(nc);
    const consumer = await this.#js.consumers.get(
      streams.destinations(namespace),
      streams.destinationConsumer,
    );
    this.#messages = await consumer.consume({
      max_messages: this.#options.concurrency,
      expires: PULL_EXPIRES_MS,
    });
    const messages = this.#messages;
    this.#loop = (async () => {
      for await (const msg of messages) {
        while (this.#running.size >= this.#options.concurrency) await Promise.race(this.#running);
        const run = this.#deliver(msg).catch((error: unknown) => {
          this.#options.onError(error);
          msg.nak(1000);
        });
        this.#running.add(run);
        void run.finally(() => this.#running.delete(run));
      }
    })();
  }

  /** Queues a delivery; resolves once the stream stored it (JetStream dedupes it per outcome). */
  async enqueue(job: DestinationJob): Promise<void> {
    const js = this.#js;
    if (!js) throw new Error("the destination queue is not started");
    await js.publish(subjects.destinations(this.#options.namespace), JSON.stringify(job), {
      msgID: `${job.payload.invocationId}:${job.kind}:${job.payload.attempts}`,
    });
  }

  /**
   * Stops pulling, then stops the sender (running deliveries get its grace period, then are cut);
   * deliveries cut short go back to the stream for another node.
   */
  async stop(): Promise<void> {
    await this.#messages?.close().catch(() => {});
    await this.#options.sender.stop();
    await Promise.all(this.#running);
    await this.#loop?.catch(() => {});
  }

  async #deliver(msg: JsMsg): Promise<void> {
    let job: DestinationJob;
    try {
      job = msg.json<DestinationJob>();
    } catch (error) {
      this.#options.onError(error);
      msg.term();
      return;
    }
    const working = setInterval(() => msg.working(), Math.max(1000, this.#options.ackWaitMs / 3));
    try {
      const outcome = await this.#options.sender.send(job.kind, job.url, job.payload, job.owner);
      // Cut short by this node stopping (not refused, not failed for good): another node makes it.
      if (!outcome || (!outcome.delivered && !outcome.refused && this.#options.sender.stopped)) msg.nak();
      else msg.ack();
    } finally {
      clearInterval(working);
    }
  }
}
