import type { PlatformStore } from "@kumo/db";
import type { Fleet } from "./fleet.ts";
import type { NodeRoster } from "./node-roster.ts";
import type { VersionCatalog } from "./version-catalog.ts";

export interface WarmKeeperOptions {
  platform: PlatformStore;
  catalog: VersionCatalog;
  fleet: Fleet;
  roster: NodeRoster;
  /** How often the routed versions are re-read (changes announced over NATS also trigger a pass). */
  intervalMs?: number;
  onError(error: unknown): void;
}

/**
 * Honours `scaling.minInstances` from boot on: versions that an alias routes traffic to are
 * pre-warmed without waiting for a first request. minInstances is a cluster-wide count: the live
 * autoscaler nodes (NodeRoster) split it, each keeping its share warm in the version's pool, and
 * the shares are recomputed when a node joins or leaves. A version no alias routes to any more
 * keeps nothing warm (its pool drains on the change notification).
 */
export class WarmKeeper {
  readonly #options: WarmKeeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: WarmKeeperOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => this.refresh(), this.#options.intervalMs ?? 10_000);
    this.#timer.unref();
    this.refresh();
  }

  /** Re-reads the routed versions and sets each pool's share; concurrent calls coalesce. */
  refresh(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#pass()
      .catch((error: unknown) => this.#options.onError(error))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.refresh();
        }
      });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  async #pass(): Promise<void> {
    const { platform, catalog, fleet, roster } = this.#options;
    const wanted = await platform.warmVersions();
    const keep = new Map<string, number>();
    for (const v of wanted) {
      const share = roster.share(v.versionId, v.minInstances);
      keep.set(v.versionId, share);
      if (share === 0 || this.#stopped) continue;
      try {
        const spec = await catalog.get(v);
        fleet.pool(spec).setMinInstances(share);
      } catch (error) {
        this.#options.onError(error);
      }
    }
    for (const pool of fleet.pools()) {
      if (!keep.has(pool.spec.versionId) || keep.get(pool.spec.versionId) === 0) pool.setMinInstances(0);
    }
  }
}
