import { randomBytes } from "node:crypto";
import { type NatsConnection, type Subscription, subjects } from "@kumo/bus";
import type { CountReport, RateLimiter } from "./rate-limiter.ts";
import type { InflightReport, TenantQuotas } from "./tenant-quotas.ts";

export interface RateLimitGossipOptions {
  nc: NatsConnection;
  namespace: string;
  limiter: RateLimiter;
  /** Tenants' in-flight invocations travel with the counts (the concurrency quota across gateways). */
  quotas?: Pick<TenantQuotas, "report" | "merge"> | undefined;
  /** How often this gateway publishes its changed counts: the staleness bound of the others' view. */
  syncMs: number;
  onError?: (error: unknown) => void;
}

interface GossipMessage {
  gateway: string;
  counts: CountReport[];
  /** This gateway's in-flight invocations per tenant: a whole snapshot, replacing the previous. */
  inflight?: InflightReport;
}

/**
 * Carries rate-limit counts (and tenants' in-flight invocations) between the gateways of one installation over plain NATS publish
 * (no JetStream: a lost report is healed by the next, since counts are absolute per window).
 */
export class RateLimitGossip {
  readonly #options: RateLimitGossipOptions;
  readonly #id = randomBytes(8).toString("hex");
  #timer: NodeJS.Timeout | undefined;
  #sub: Subscription | undefined;

  constructor(options: RateLimitGossipOptions) {
    this.#options = options;
  }

  start(): this {
    const { nc, namespace, limiter } = this.#options;
    this.#sub = nc.subscribe(subjects.rateLimits(namespace), {
      callback: (error, msg) => {
        if (error) return;
        try {
          const message = msg.json<GossipMessage>();
          if (message.gateway === this.#id) return;
          if (Array.isArray(message.counts)) limiter.merge(message.gateway, message.counts, Date.now());
          if (message.inflight && typeof message.inflight === "object")
            this.#options.quotas?.merge(message.gateway, message.inflight);
        } catch (e) {
          this.#options.onError?.(e);
        }
      },
    });
    this.#timer = setInterval(() => this.flush(), this.#options.syncMs);
    this.#timer.unref();
    return this;
  }

  /** Publishes the counts that changed since the last report, and the in-flight snapshot. */
  flush(): void {
    const counts = this.#options.limiter.report();
    const inflight = this.#options.quotas?.report();
    if (counts.length === 0 && !inflight) return;
    const message: GossipMessage = { gateway: this.#id, counts, ...(inflight ? { inflight } : {}) };
    try {
      this.#options.nc.publish(subjects.rateLimits(this.#options.namespace), JSON.stringify(message));
    } catch (error) {
      this.#options.onError?.(error);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sub?.unsubscribe();
  }
}
