import { RESOURCE_NAME } from "@kumo/core";
import type { PlatformStore } from "@kumo/db";
import { hostOf } from "./hostname.ts";

/** A request host that serves a tenant's routes. `host` is null for the apps domain (host-less routes). */
export type RoutedHost =
  | { kind: "apps"; tenantName: string; host: null }
  | { kind: "custom"; tenantId: string; tenantName: string; host: string };

export interface HostTableOptions {
  platform: PlatformStore;
  appsDomain: string;
  /** Periodic reload, the bound on staleness when a change notification is lost. */
  refreshMs: number;
  onError: (error: unknown) => void;
}

/**
 * Which Host headers belong to tenants. Answered synchronously because fastify decides a request's
 * route before any async hook runs: `<tenant>.<appsDomain>` is recognized by its shape, and verified
 * custom domains are held in memory, reloaded on every domain change and periodically.
 */
export class HostTable {
  readonly #options: HostTableOptions;
  readonly #suffix: string;
  #custom = new Map<string, { tenantId: string; tenantName: string }>();
  #generation = 0;
  #applied = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HostTableOptions) {
    this.#options = options;
    this.#suffix = `.${options.appsDomain}`;
  }

  classify(hostHeader: string | undefined): RoutedHost | undefined {
    const host = hostOf(hostHeader);
    if (host.endsWith(this.#suffix)) {
      const label = host.slice(0, -this.#suffix.length);
      return RESOURCE_NAME.test(label) ? { kind: "apps", tenantName: label, host: null } : undefined;
    }
    const custom = this.#custom.get(host);
    return custom ? { kind: "custom", ...custom, host } : undefined;
  }

  /** Reloads verified domains; a reload that finishes after a newer one is discarded. */
  /**
   * Reloads the verified domains; once it resolves, the table holds what the database had when it
   * was called or newer (a refresh that finishes after a newer one never overwrites it).
   */
  async refresh(): Promise<void> {
    const generation = ++this.#generation;
    const rows = await this.#options.platform.verifiedDomains();
    if (generation < this.#applied) return;
    this.#applied = generation;
    this.#custom = new Map(
      rows.map((r) => [r.hostname, { tenantId: r.tenant_id, tenantName: r.tenant_name }]),
    );
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.refresh().catch(this.#options.onError);
    }, this.#options.refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
