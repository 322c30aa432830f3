import {
  createInbox,
  type Msg,
  type NatsConnection,
  headers as natsHeaders,
  type Subscription,
} from "@nats-io/transport-node";
import { PublishBatcher } from "./publish-batcher.ts";

export interface StreamPublisherOptions {
  /** A publish whose acknowledgement has not come within this long fails. */
  timeoutMs?: number;
  /** Publishes awaiting their acknowledgement at once; beyond it `publish` waits for room. */
  window?: number;
}

/** JetStream's acknowledgement of a stored message. */
export interface StreamAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

interface Waiting {
  at: number;
  resolve(ack: StreamAck): void;
  reject(error: Error): void;
}

/**
 * Pipelined JetStream publishes: every message goes out with a reply subject under one wildcard
 * inbox subscription and is settled when the stream's acknowledgement arrives, so many publishes
 * share socket writes (one per event-loop turn) and none costs a request object, a timer or a
 * subscription of its own. A bounded window keeps a slow stream from growing memory without limit.
 * Same guarantee as `js.publish`: the promise resolves once the stream stored the message.
 */
export class StreamPublisher {
  readonly #out: PublishBatcher;
  readonly #prefix = createInbox();
  readonly #waiting = new Map<string, Waiting>();
  readonly #room: (() => void)[] = [];
  readonly #timeoutMs: number;
  readonly #window: number;
  readonly #timer: NodeJS.Timeout;
  readonly #sub: Subscription;
  #next = 0;

  constructor(nc: NatsConnection, options: StreamPublisherOptions = {}) {
    this.#out = new PublishBatcher(nc);
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#window = options.window ?? 4096;
    this.#sub = nc.subscribe(`${this.#prefix}.*`, {
      callback: (error, msg) => {
        if (!error) this.#settle(msg);
      },
    });
    this.#timer = setInterval(() => this.#sweep(), 250);
    this.#timer.unref();
  }

  /** Publishes to a stream subject; `msgId` is JetStream's dedupe id (Nats-Msg-Id). */
  async publish(subject: string, data: Uint8Array, msgId?: string): Promise<StreamAck> {
    while (this.#waiting.size >= this.#window) await new Promise<void>((r) => this.#room.push(r));
    const token = (++this.#next).toString(36);
    const h = msgId ? natsHeaders() : undefined;
    if (h && msgId) h.set("Nats-Msg-Id", msgId);
    return new Promise<StreamAck>((resolve, reject) => {
      this.#waiting.set(token, { at: Date.now(), resolve, reject });
      this.#out.publish(subject, data, { reply: `${this.#prefix}.${token}`, ...(h ? { headers: h } : {}) });
    });
  }

  /** Fails what still waits (the connection is closing). */
  stop(): void {
    clearInterval(this.#timer);
    this.#out.flush();
    this.#sub.unsubscribe();
    for (const [token, w] of this.#waiting) {
      this.#waiting.delete(token);
      w.reject(new Error("the publisher stopped before the stream acknowledged the message"));
    }
  }

  #settle(msg: Msg): void {
    const token = msg.subject.slice(this.#prefix.length + 1);
    const waiting = this.#waiting.get(token);
    if (!waiting) return;
    this.#waiting.delete(token);
    this.#room.shift()?.();
    if (msg.data.byteLength === 0 && msg.headers?.code === 503) {
      waiting.reject(new Error("no stream is listening on the subject (503 no responders)"));
      return;
    }
    try {
      const ack = msg.json<{
        stream?: string;
        seq?: number;
        duplicate?: boolean;
        error?: { description?: string };
      }>();
      if (ack.error || typeof ack.seq !== "number") {
        waiting.reject(
          new Error(`the stream refused the message: ${ack.error?.description ?? "no sequence"}`),
        );
        return;
      }
      waiting.resolve({ stream: ack.stream ?? "", seq: ack.seq, duplicate: ack.duplicate === true });
    } catch (error) {
      waiting.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #sweep(): void {
    const limit = Date.now() - this.#timeoutMs;
    for (const [token, w] of this.#waiting) {
      if (w.at > limit) continue;
      this.#waiting.delete(token);
      this.#room.shift()?.();
      w.reject(new Error(`no acknowledgement from the stream within ${this.#timeoutMs} ms`));
    }
  }
}
