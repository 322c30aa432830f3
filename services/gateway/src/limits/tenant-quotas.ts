import { KumoError } from "@kumo/core";
import type { PlatformStore, QuotaLimits } from "@kumo/db";

const DAY_MS = 86_400_000;

export interface TenantQuotasOptions {
  platform: PlatformStore;
  /** The installation's defaults, for each quota a tenant has none of its own. */
  defaults: QuotaLimits;
  /** How long a tenant's limits and its invocations-per-day base count are trusted before a reload. */
  refreshMs: number;
  /** Another gateway's concurrency report older than this is dropped (it stopped or lost its bus). */
  staleMs: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

/** Ends one admitted invocation's share of its tenant's concurrency. Calling it twice is harmless. */
export type Release = () => void;

/** In-flight invocations per tenant, as one gateway reports them to the others. */
export type InflightReport = Record<string, number>;

interface Cached {
  limits: QuotaLimits;
  loadedAt: number;
  loading: Promise<QuotaLimits> | undefined;
}

interface DailyCount {
  day: number;
  /** Invocations of the day the metrics rollups held at the last refresh (every writer's). */
  base: number;
  /** What this gateway admitted, per second, since GRACE_MS before the last refresh. */
  recent: [second: number, count: number][];
  /** The sum of `recent`. */
  local: number;
  refreshedAt: number;
  refreshing: boolean;
}

/**
 * What this gateway admitted within this long before a refresh is counted on top of the rollups,
 * since it may not be in them yet (the recorder flushes every 250 ms, rollups every second, and an
 * invocation is counted when it ends).
 */
const GRACE_MS = 5000;

/**
 * The runtime tenant quotas, checked where the gateway admits an invocation: concurrent executions
 * across the installation and invocations per UTC day. Neither check waits for the network once a
 * tenant's limits are loaded (a map lookup and a sum).
 *
 * Concurrency: each gateway counts its own in-flight invocations per tenant and gossips the
 * snapshot with the rate-limit counts (every KUMO_RATE_LIMIT_SYNC); a check adds the other gateways'
 * latest snapshots. Accuracy: exact with one gateway; across gateways at most the limit plus what the
 * others admitted within one sync interval (plus the bus's latency).
 *
 * Invocations per day: the day's count from the metrics rollups (every writer: gateways, autoscalers,
 * scheduler), reloaded in the background every `refreshMs`, plus what this gateway admitted since
 * (from GRACE_MS before the reload, as those may not have reached the rollups yet). Accuracy: what
 * other gateways admitted since the last reload is unseen (at most their rate × refreshMs); this
 * gateway's admissions of the last GRACE_MS before a reload may count twice (refusing early by at
 * most its rate × 5 s), and one still queued or running GRACE_MS after it was admitted is uncounted
 * until it ends.
 */
export class TenantQuotas {
  readonly #options: TenantQuotasOptions;
  readonly #now: () => number;
  readonly #limits = new Map<string, Cached>();
  readonly #inflight = new Map<string, number>();
  readonly #remote = new Map<string, { at: number; inflight: InflightReport }>();
  readonly #daily = new Map<string, DailyCount>();
  #reportedAny = false;

  constructor(options: TenantQuotasOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The tenant's limits in force: its own where set, else the installation's defaults. */
  async limits(tenantId: string): Promise<QuotaLimits> {
    const cached = this.#limits.get(tenantId);
    if (cached && this.#now() - cached.loadedAt < this.#options.refreshMs) return cached.limits;
    if (cached?.loading) return cached.limits;
    return this.#load(tenantId);
  }

  /** Forgets a tenant's cached limits (they were just changed). */
  evict(tenantId: string): void {
    this.#limits.delete(tenantId);
  }

  /**
   * Admits one invocation of the tenant, or throws FN_007 naming the quota. `concurrent`: the
   * invocation runs while the caller waits (sync), so it holds a concurrency slot until released;
   * async ones count toward the day only (they run on autoscaler nodes, which queue them).
   */
  admit(tenantId: string, concurrent: boolean): Release | Promise<Release> {
    const cached = this.#limits.get(tenantId);
    if (!cached) return this.#load(tenantId).then(() => this.#admit(tenantId, concurrent));
    if (this.#now() - cached.loadedAt >= this.#options.refreshMs && !cached.loading)
      this.#load(tenantId).catch((e: unknown) => this.#options.onError?.(e));
    return this.#admit(tenantId, concurrent);
  }

  /** In-flight invocations of the tenant across the installation, as this gateway knows it. */
  concurrency(tenantId: string): number {
    let n = this.#inflight.get(tenantId) ?? 0;
    const stale = this.#now() - this.#options.staleMs;
    for (const [gateway, report] of this.#remote) {
      if (report.at < stale) this.#remote.delete(gateway);
      else n += report.inflight[tenantId] ?? 0;
    }
    return n;
  }

  /** Invocations of the tenant today (UTC), as this gateway knows it; reloads the base count first. */
  async invocationsToday(tenantId: string): Promise<number> {
    const entry = this.#dailyOf(tenantId);
    await this.#refreshDaily(tenantId, entry);
    return entry.base + entry.local;
  }

  /** This gateway's in-flight snapshot for the others, or undefined when there is nothing new to say. */
  report(): InflightReport | undefined {
    if (this.#inflight.size === 0 && !this.#reportedAny) return undefined;
    this.#reportedAny = this.#inflight.size > 0;
    return Object.fromEntries(this.#inflight);
  }

  /** Another gateway's snapshot: replaces what it said before. */
  merge(gateway: string, inflight: InflightReport): void {
    this.#remote.set(gateway, { at: this.#now(), inflight });
  }

  #admit(tenantId: string, concurrent: boolean): Release {
    const limits = this.#limits.get(tenantId)?.limits ?? this.#options.defaults;
    const daily = this.#dailyOf(tenantId);
    if (limits.invocationsPerDay !== null) {
      if (this.#now() - daily.refreshedAt >= this.#options.refreshMs && !daily.refreshing)
        this.#refreshDaily(tenantId, daily).catch((e: unknown) => this.#options.onError?.(e));
      const used = daily.base + daily.local;
      if (used >= limits.invocationsPerDay) {
        const reset = Math.ceil((DAY_MS - (this.#now() % DAY_MS)) / 1000);
        throw new KumoError(
          "FN_007",
          `tenant quota "invocationsPerDay" reached: ${used} of ${limits.invocationsPerDay} invocations today (UTC); it resets in ${reset} s, or ask the platform admin to raise it`,
          {
            details: {
              quota: "invocationsPerDay",
              limit: limits.invocationsPerDay,
              used,
              retryAfterSeconds: reset,
            },
          },
        );
      }
    }
    if (concurrent && limits.concurrency !== null) {
      const used = this.concurrency(tenantId);
      if (used >= limits.concurrency) {
        throw new KumoError(
          "FN_007",
          `tenant quota "concurrency" reached: ${used} of ${limits.concurrency} concurrent executions in use across the installation; retry shortly, or ask the platform admin to raise it`,
          { details: { quota: "concurrency", limit: limits.concurrency, used, retryAfterSeconds: 1 } },
        );
      }
    }
    const second = Math.floor(this.#now() / 1000);
    const last = daily.recent.at(-1);
    if (last && last[0] === second) last[1]++;
    else daily.recent.push([second, 1]);
    daily.local++;
    if (!concurrent) return noop;
    this.#inflight.set(tenantId, (this.#inflight.get(tenantId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#inflight.get(tenantId) ?? 1) - 1;
      if (n > 0) this.#inflight.set(tenantId, n);
      else this.#inflight.delete(tenantId);
    };
  }

  #dailyOf(tenantId: string): DailyCount {
    const day = Math.floor(this.#now() / DAY_MS);
    let entry = this.#daily.get(tenantId);
    if (!entry || entry.day !== day) {
      entry = {
        day,
        base: 0,
        recent: [],
        local: 0,
        refreshedAt: Number.NEGATIVE_INFINITY,
        refreshing: false,
      };
      this.#daily.set(tenantId, entry);
    }
    return entry;
  }

  async #refreshDaily(tenantId: string, entry: DailyCount): Promise<void> {
    entry.refreshing = true;
    const started = this.#now();
    try {
      const base = await this.#options.platform
        .tenant(tenantId)
        .usage.invocationsSince(new Date(entry.day * DAY_MS));
      entry.base = base;
      // Admissions older than the grace period are in the rollups by now.
      const oldest = Math.floor((started - GRACE_MS) / 1000);
      while (entry.recent.length > 0 && (entry.recent[0]?.[0] ?? oldest) < oldest)
        entry.local -= entry.recent.shift()?.[1] ?? 0;
      entry.refreshedAt = this.#now();
    } finally {
      entry.refreshing = false;
    }
  }

  async #load(tenantId: string): Promise<QuotaLimits> {
    const previous = this.#limits.get(tenantId);
    const loading = this.#options.platform
      .tenant(tenantId)
      .quotas.get()
      .then((own) => {
        const d = this.#options.defaults;
        const limits: QuotaLimits = {
          functions: own.functions ?? d.functions,
          versionsPerFunction: own.versionsPerFunction ?? d.versionsPerFunction,
          concurrency: own.concurrency ?? d.concurrency,
          invocationsPerDay: own.invocationsPerDay ?? d.invocationsPerDay,
          buildMinutesPerDay: own.buildMinutesPerDay ?? d.buildMinutesPerDay,
          storedBytes: own.storedBytes ?? d.storedBytes,
        };
        this.#limits.set(tenantId, { limits, loadedAt: this.#now(), loading: undefined });
        return limits;
      });
    if (previous) previous.loading = loading;
    try {
      const limits = await loading;
      // The day's base count before the first check, so a restarted gateway does not start from zero.
      if (limits.invocationsPerDay !== null) {
        const daily = this.#dailyOf(tenantId);
        if (daily.refreshedAt === Number.NEGATIVE_INFINITY) await this.#refreshDaily(tenantId, daily);
      }
      return limits;
    } catch (error) {
      if (previous) previous.loading = undefined;
      throw error;
    }
  }
}

const noop: Release = () => {};
