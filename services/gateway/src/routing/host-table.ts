import { RESOURCE_NAME } from "@kumo/core";
import type { PlatformStore } from "@kumo/db";
import { hostOf } from "./hostname.ts";

/**
 * A request host that serves a tenant's routes (`host` is null for the apps domain, whose routes are
 * host-less) or one function (`<function>.<tenant>.<apps domain>`, its live alias at the root path).
 */
export type RoutedHost =
  | { kind: "apps"; tenantName: string; host: null }
  | { kind: "custom"; tenantId: string; tenantName: string; host: string }
  | { kind: "function"; tenantName: string; functionName: string; host: null };

export interface HostTableOptions {
  platform: PlatformStore;
  appsDomain: string;
  /** Whether `<function>.<tenant>.<appsDomain>` hosts serve functions (KUMO_FUNCTION_HOSTS). */
  functionHosts: boolean;
  /** Periodic reload, the bound on staleness when a change notification is lost. */
  refreshMs: number;
  onError: (error: unknown) => void;
}

/**
 * Which Host headers belong to tenants. Answered synchronously because fastify decides a request's
 * route before any async hook runs: `<tenant>.<appsDomain>` and `<function>.<tenant>.<appsDomain>`
 * are recognized by their shape (one label or two; custom domains can never sit under the apps
 * domain), and verified custom domains are held in memory, reloaded on every domain change and
 * periodically.
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
      const labels = host.slice(0, -this.#suffix.length);
      const dot = labels.indexOf(".");
      if (dot < 0)
        return RESOURCE_NAME.test(labels) ? { kind: "apps", tenantName: labels, host: null } : undefined;
      if (!this.#options.functionHosts) return undefined;
      const functionName = labels.slice(0, dot);
      const tenantName = labels.slice(dot + 1);
      return RESOURCE_NAME.test(functionName) && RESOURCE_NAME.test(tenantName)
        ? { kind: "function", tenantName, functionName, host: null }
        : undefined;
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
