import { createHash } from "node:crypto";
import { headers as H } from "@kumo/bus";
import { redactUrl } from "@kumo/core";
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage } from "amqplib";
import type { QueueSource, SourceMessage } from "./queue-source.ts";

export interface RabbitMqQueueSourceOptions {
  /** The broker's amqp:// or amqps:// URL (the tenant secret's value). */
  url: string;
  queue: string;
  /** Prefetch: at most this many unacked messages are on their way to the trigger. */
  prefetch: number;
  /** How long one wait for a first message lasts. */
  pollMs: number;
  /** Connection attempts give up after this long (an unreachable broker is an error state). */
  connectTimeoutMs?: number;
}

interface RabbitMqMessage extends SourceMessage {
  msg: ConsumeMessage;
}

const QUORUM_DELIVERY_COUNT = "x-delivery-count";

/**
 * A queue on the tenant's RabbitMQ (AMQP 0-9-1): one connection and confirm channel per trigger,
 * prefetch = batch size. Deliveries are counted by the broker on quorum queues
 * (`x-delivery-count`; a retry is a nack with requeue), and in the `kumo-deliveries` header
 * elsewhere: a classic queue keeps no count, so a retry republishes the message with the header
 * incremented (confirmed) and then acks the original — it goes to the back of the queue.
 */
export class RabbitMqQueueSource implements QueueSource {
  readonly #options: RabbitMqQueueSourceOptions;
  #connection: ChannelModel | undefined;
  #channel: ConfirmChannel | undefined;
  #buffer: RabbitMqMessage[] = [];
  #arrived: (() => void) | undefined;
  #broken: Error | undefined;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(options: RabbitMqQueueSourceOptions) {
    this.#options = options;
  }

  get broken(): Error | undefined {
    return this.#broken;
  }

  async open(): Promise<void> {
    const where = redactUrl(this.#options.url);
    let connection: ChannelModel;
    try {
      connection = await amqp.connect(this.#options.url, {
        timeout: this.#options.connectTimeoutMs ?? 5000,
      });
    } catch (error) {
      throw new Error(`cannot connect to RabbitMQ at ${where}: ${describe(error)}`);
    }
    this.#connection = connection;
    connection.on("error", (error: Error) => {
      this.#broken ??= new Error(`RabbitMQ connection to ${where} failed: ${error.message}`);
    });
    connection.on("close", () => {
      this.#broken ??= new Error(`RabbitMQ at ${where} closed the connection`);
      this.#arrived?.();
    });
    try {
      const channel = await connection.createConfirmChannel();
      this.#channel = channel;
      channel.on("error", (error: Error) => {
        this.#broken ??= new Error(`RabbitMQ channel failed: ${error.message}`);
      });
      await channel.checkQueue(this.#options.queue).catch((error: unknown) => {
        throw new Error(`RabbitMQ queue "${this.#options.queue}" at ${where}: ${describe(error)}`);
      });
      await channel.prefetch(this.#options.prefetch);
      await channel.consume(
        this.#options.queue,
        (msg) => {
          if (!msg) {
            this.#broken ??= new Error(`RabbitMQ cancelled the consumer of "${this.#options.queue}"`);
          } else {
            this.#buffer.push(this.#message(msg));
          }
          this.#arrived?.();
        },
        { noAck: false },
      );
    } catch (error) {
      await this.close();
      throw error instanceof Error ? error : new Error(String(error));
    }
  }

  async collect(max: number, windowMs: number): Promise<SourceMessage[]> {
    if (this.#buffer.length === 0) await this.#wait(this.#options.pollMs);
    if (this.#buffer.length === 0 || this.#broken) return [];
    const deadline = Date.now() + windowMs;
    while (this.#buffer.length < max && !this.#broken) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      await this.#wait(remaining);
    }
    return this.#buffer.splice(0, max);
  }

  keepAlive(): void {
    // The broker has no ack deadline: an unacked message stays ours while the connection lives.
  }

  async ack(message: SourceMessage): Promise<void> {
    this.#channel?.ack((message as RabbitMqMessage).msg);
  }

  async retry(message: SourceMessage, delayMs: number): Promise<void> {
    const { msg } = message as RabbitMqMessage;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#requeue(msg, message.deliveries).catch(() => {
        // The channel is gone: the broker requeues the unacked message itself.
      });
    }, delayMs);
    this.#timers.add(timer);
  }

  async lag(): Promise<number | null> {
    const channel = this.#channel;
    if (!channel || this.#broken) return null;
    const { messageCount } = await channel.checkQueue(this.#options.queue);
    return messageCount + this.#buffer.length;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#buffer = [];
    const connection = this.#connection;
    this.#connection = undefined;
    this.#channel = undefined;
    // Closing the connection hands every unacked message back to the queue.
    await connection?.close().catch(() => undefined);
  }

  async #requeue(msg: ConsumeMessage, deliveries: number): Promise<void> {
    const channel = this.#channel;
    if (!channel) return;
    if (msg.properties.headers?.[QUORUM_DELIVERY_COUNT] !== undefined) {
      channel.nack(msg, false, true);
      return;
    }
    const headers = { ...(msg.properties.headers ?? {}), [H.queueDeliveries]: deliveries };
    await new Promise<void>((resolve, reject) =>
      channel.sendToQueue(
        this.#options.queue,
        msg.content,
        { ...propertiesOf(msg), headers },
        (error: unknown) => (error ? reject(error) : resolve()),
      ),
    );
    channel.ack(msg);
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const arrived = () => done();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#arrived = arrived;
    }).finally(() => {
      this.#arrived = undefined;
    });
  }

  #message(msg: ConsumeMessage): RabbitMqMessage {
    const headers = msg.properties.headers ?? {};
    const previous = Number(headers[QUORUM_DELIVERY_COUNT] ?? headers[H.queueDeliveries] ?? 0);
    const deliveries =
      Number.isFinite(previous) && previous > 0 ? previous + 1 : msg.fields.redelivered ? 2 : 1;
    const messageId =
      typeof msg.properties.messageId === "string" && msg.properties.messageId !== ""
        ? msg.properties.messageId
        : createHash("sha256").update(msg.content).digest("hex").slice(0, 24);
    const key = headers["kumo-key"];
    const timestamp = Number(msg.properties.timestamp);
    return {
      msg,
      ref: messageId,
      id: messageId,
      key: typeof key === "string" ? key : null,
      data: decodeBody(msg.content),
      publishedAt:
        Number.isFinite(timestamp) && timestamp > 0 ? new Date(timestamp * 1000).toISOString() : null,
      deliveries,
    };
  }
}

/** JSON bodies are passed as values, anything else as UTF-8 text. */
function decodeBody(content: Buffer): unknown {
  const text = content.toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function propertiesOf(msg: ConsumeMessage) {
  const p = msg.properties;
  const out: Record<string, unknown> = {};
  for (const name of [
    "contentType",
    "contentEncoding",
    "correlationId",
    "messageId",
    "timestamp",
    "type",
    "appId",
  ] as const) {
    if (p[name] !== undefined) out[name] = p[name];
  }
  out.persistent = p.deliveryMode === 2;
  return out;
}

function describe(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === "string" && e.message !== "" ? e.message : String(error);
  return typeof e?.code === "string" && !message.includes(e.code) ? `${e.code} ${message}` : message;
}
