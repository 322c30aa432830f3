import type { PlatformStore, RouteRow } from "@kumo/db";
import { parseRoutePattern } from "./route-pattern.ts";
import { type RouteMatch, RouteTrie } from "./route-trie.ts";

interface CompiledRoutes {
  /** One trie per host; "" holds the host-less routes (apps domain and /r/). */
  byHost: Map<string, RouteTrie<RouteRow>>;
  loadedAt: number;
}

export interface RouteTableOptions {
  platform: PlatformStore;
  /** Bound on staleness when a change notification is lost. */
  ttlMs?: number;
  /** Tenants kept compiled at once. */
  maxTenants?: number;
}

/**
 * Tenants' routes compiled into tries, one set per tenant, built on first use and dropped when the
 * tenant's routes change (through any gateway: changes are announced over NATS).
 */
export class RouteTable {
  readonly #options: RouteTableOptions;
  readonly #tenants = new Map<string, Promise<CompiledRoutes>>();

  constructor(options: RouteTableOptions) {
    this.#options = options;
  }

  /** The best route of the tenant for this host (null: host-less routes), method and path. */
  async match(
    tenantId: string,
    host: string | null,
    method: string,
    path: string,
  ): Promise<RouteMatch<RouteRow> | undefined> {
    const compiled = await this.#compiled(tenantId);
    return compiled.byHost.get(host ?? "")?.match(method, path);
  }

  evict(tenantId: string): void {
    this.#tenants.delete(tenantId);
  }

  #compiled(tenantId: string): Promise<CompiledRoutes> {
    const cached = this.#tenants.get(tenantId);
    const ttl = this.#options.ttlMs ?? 30_000;
    if (cached) {
      return cached.then((c) => (Date.now() - c.loadedAt < ttl ? c : this.#load(tenantId)));
    }
    return this.#load(tenantId);
  }

  #load(tenantId: string): Promise<CompiledRoutes> {
    const max = this.#options.maxTenants ?? 10_000;
    if (this.#tenants.size >= max) {
      const oldest = this.#tenants.keys().next().value;
      if (oldest !== undefined) this.#tenants.delete(oldest);
    }
    const loading = this.#options.platform
      .tenant(tenantId)
      .routes.all()
      .then((rows) => compile(rows));
    this.#tenants.set(tenantId, loading);
    loading.catch(() => {
      if (this.#tenants.get(tenantId) === loading) this.#tenants.delete(tenantId);
    });
    return loading;
  }
}

function compile(rows: readonly RouteRow[]): CompiledRoutes {
  const byHost = new Map<string, RouteTrie<RouteRow>>();
  for (const row of rows) {
    const key = row.host ?? "";
    let trie = byHost.get(key);
    if (!trie) {
      trie = new RouteTrie<RouteRow>();
      byHost.set(key, trie);
    }
    trie.add(row.method, parseRoutePattern(row.path).segments, row);
  }
  return { byHost, loadedAt: Date.now() };
}
