import type { NatsConnection, PublishOptions } from "@nats-io/transport-node";

/**
 * Publishes in batches of one event-loop turn. nats.js flushes its outbound buffer in a microtask,
 * and Node drains microtasks after every I/O callback, so publishes made from different requests'
 * callbacks each cost a socket write and a wakeup of the server. Queuing them until `setImmediate`
 * (right after the current poll phase) makes every publish of one loop turn a single write. Order is
 * kept: messages go out in the order `publish` was called.
 */
export class PublishBatcher {
  readonly #nc: NatsConnection;
  #subjects: string[] = [];
  #payloads: Uint8Array[] = [];
  #options: (PublishOptions | undefined)[] = [];
  #scheduled = false;
  readonly #flush = () => this.flush();

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  publish(subject: string, payload: Uint8Array, options?: PublishOptions): void {
    this.#subjects.push(subject);
    this.#payloads.push(payload);
    this.#options.push(options);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Hands everything queued to the connection now (it goes out in one write). */
  flush(): void {
    this.#scheduled = false;
    const subjects = this.#subjects;
    const payloads = this.#payloads;
    const options = this.#options;
    if (subjects.length === 0) return;
    this.#subjects = [];
    this.#payloads = [];
    this.#options = [];
    if (this.#nc.isClosed()) return;
    for (let i = 0; i < subjects.length; i++) {
      try {
        this.#nc.publish(subjects[i] as string, payloads[i], options[i]);
      } catch {
        // A publish that fails (connection draining) is lost like any NATS publish; the
        // receiving side's deadline and silence timers turn that into a coded error.
      }
    }
  }
}
