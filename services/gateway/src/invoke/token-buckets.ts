/**
 * Token buckets by key (a tenant id), in this process: `capacity` tokens, refilled at `perSecond`.
 * Per gateway, not per installation: N gateways allow N times the rate, which is what a guard against
 * one tenant flooding the isolate hosts with drafts needs (a shared limiter would put a database or
 * NATS round trip in front of every draft). Idle full buckets are dropped so the map stays small.
 */
export class TokenBuckets {
  readonly #capacity: number;
  readonly #perMs: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: { capacity: number; perSecond: number }) {
    this.#capacity = options.capacity;
    this.#perMs = options.perSecond / 1000;
  }

  /** Takes one token: 0 when granted, else the milliseconds until one is free. */
  take(key: string, now = Date.now()): number {
    const bucket = this.#buckets.get(key) ?? { tokens: this.#capacity, at: now };
    bucket.tokens = Math.min(this.#capacity, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.#buckets.set(key, bucket);
      if (this.#buckets.size > 10_000) this.#sweep(now);
      return 0;
    }
    this.#buckets.set(key, bucket);
    return Math.ceil((1 - bucket.tokens) / this.#perMs);
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.#capacity) this.#buckets.delete(key);
    }
  }
}
