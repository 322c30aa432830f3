/**
 * Per-function rate limits shared by every gateway of an installation: sliding-window counters
 * kept in process and gossiped.
 *
 * Each gateway counts the requests it admits per bucket (function + key/ip/claim value) in fixed
 * windows aligned to the wall clock (`floor(now / windowMs)`), so every gateway means the same
 * window. Every `syncMs` it publishes the counts that changed (`report()`); every gateway adds what
 * the others reported (`merge()`). A request is admitted while the sliding-window estimate
 * `previous × (1 − elapsed/window) + current` of all gateways together is below the limit.
 *
 * Accuracy: a check is a map lookup and never waits for the network. The price is staleness: a
 * gateway does not yet know what the others admitted in the last sync interval (plus the bus's
 * latency), so across the installation at most `limit + (rate admitted by the other gateways ×
 * (syncMs + latency))` requests pass a window; with one gateway it is exact. Gateways' clocks are
 * assumed within a few ms of each other (NTP); skew shifts window boundaries, not totals.
 */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Requests still admitted in this window (after this one, when it was admitted). */
  remaining: number;
  /** Milliseconds until the window (and so the estimate's largest part) rolls over. */
  resetMs: number;
}

/** One bucket's count in one window, as a gateway reports it: absolute, so a lost report heals. */
export type CountReport = [key: string, windowMs: number, window: number, count: number];

interface Bucket {
  windowMs: number;
  window: number;
  /** This gateway's admitted requests in the current and previous window. */
  local: number;
  localPrevious: number;
  /** The other gateways' latest reports, summed, for the current and previous window. */
  remote: number;
  remotePrevious: number;
  dirty: boolean;
}

export interface RateLimiterOptions {
  /** Buckets kept; past it, those idle for two windows are dropped, and failing that all. */
  maxBuckets?: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  /** What each other gateway last reported per bucket and window, to turn absolute counts into deltas. */
  readonly #reported = new Map<string, Map<string, { window: number; count: number }>>();
  readonly #maxBuckets: number;

  constructor(options: RateLimiterOptions = {}) {
    this.#maxBuckets = options.maxBuckets ?? 100_000;
  }

  /** Admits one request to `key` under `limit` per `windowMs`, or says how long to wait. */
  check(key: string, limit: number, windowMs: number, now: number): RateDecision {
    const bucket = this.#bucket(key, windowMs, now);
    const elapsed = now - bucket.window * windowMs;
    const weight = 1 - elapsed / windowMs;
    const used = (bucket.localPrevious + bucket.remotePrevious) * weight + bucket.local + bucket.remote;
    const resetMs = windowMs - elapsed;
    if (used + 1 > limit) {
      return { allowed: false, limit, remaining: 0, resetMs };
    }
    bucket.local++;
    bucket.dirty = true;
    return { allowed: true, limit, remaining: Math.max(0, Math.floor(limit - used - 1)), resetMs };
  }

  /** Counts that changed since the last report, to publish to the other gateways. */
  report(): CountReport[] {
    const out: CountReport[] = [];
    for (const [key, b] of this.#buckets) {
      if (!b.dirty) continue;
      b.dirty = false;
      out.push([key, b.windowMs, b.window, b.local]);
    }
    return out;
  }

  /** Adds another gateway's report. Reports of windows this gateway has moved past are ignored. */
  merge(gateway: string, counts: readonly CountReport[], now: number): void {
    let seen = this.#reported.get(gateway);
    if (!seen) {
      seen = new Map();
      this.#reported.set(gateway, seen);
    }
    for (const [key, windowMs, window, count] of counts) {
      const bucket = this.#bucket(key, windowMs, now);
      const last = seen.get(key);
      const before = last && last.window === window ? last.count : 0;
      seen.set(key, { window, count });
      const delta = count - before;
      if (window === bucket.window) bucket.remote += delta;
      else if (window === bucket.window - 1) bucket.remotePrevious += delta;
    }
  }

  /** A gateway that stopped reporting: its counts are dropped from the next window on. */
  forget(gateway: string): void {
    this.#reported.delete(gateway);
  }

  get size(): number {
    return this.#buckets.size;
  }

  #bucket(key: string, windowMs: number, now: number): Bucket {
    const window = Math.floor(now / windowMs);
    let bucket = this.#buckets.get(key);
    if (!bucket || bucket.windowMs !== windowMs) {
      if (this.#buckets.size >= this.#maxBuckets) this.#prune(now);
      bucket = { windowMs, window, local: 0, localPrevious: 0, remote: 0, remotePrevious: 0, dirty: false };
      this.#buckets.set(key, bucket);
      return bucket;
    }
    if (bucket.window !== window) {
      const adjacent = bucket.window === window - 1;
      bucket.localPrevious = adjacent ? bucket.local : 0;
      bucket.remotePrevious = adjacent ? bucket.remote : 0;
      bucket.local = 0;
      bucket.remote = 0;
      bucket.window = window;
      // Reports already received for the new window (a gateway whose clock is a little ahead)
      // count from now on; later reports of that window add only their difference.
      for (const seen of this.#reported.values()) {
        const last = seen.get(key);
        if (last && last.window === window) bucket.remote += last.count;
      }
    }
    return bucket;
  }

  #prune(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (Math.floor(now / b.windowMs) - b.window >= 2) this.#buckets.delete(key);
    }
    if (this.#buckets.size >= this.#maxBuckets) this.#buckets.clear();
    for (const seen of this.#reported.values()) {
      for (const key of seen.keys()) if (!this.#buckets.has(key)) seen.delete(key);
    }
  }
}
