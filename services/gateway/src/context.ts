import type { TenantQueues } from "@kumo/bus";
import type { CapacityProvider, SecretBox } from "@kumo/core";
import type { PlatformStore, Recorder } from "@kumo/db";
import type { Authenticator } from "./auth/authenticator.ts";
import type { InvocationGuard } from "./auth/invocation-guard.ts";
import type { GatewayConfig } from "./config.ts";
import type { Deployer } from "./deploy/deployer.ts";
import type { AsyncQueue } from "./invoke/async-queue.ts";
import type { FunctionResolver } from "./invoke/function-resolver.ts";
import type { Invoker } from "./invoke/invoker.ts";
import type { LiveLogs } from "./invoke/live-logs.ts";
import type { TenantQuotas } from "./limits/tenant-quotas.ts";
import type { DomainVerifier } from "./routing/domain-verifier.ts";
import type { HostTable } from "./routing/host-table.ts";
import type { RouteTable } from "./routing/route-table.ts";

/** Everything route factories depend on, passed in rather than imported. */
export interface GatewayContext {
  config: GatewayConfig;
  platform: PlatformStore;
  auth: Authenticator;
  /** Who may invoke a function over HTTP and how often: CORS, IP allowlist, key or JWT, rate limit. */
  guard: InvocationGuard;
  /** Tenant quotas in force (cached) and the runtime ones' counters: concurrency, invocations per day. */
  quotas: TenantQuotas;
  secretBox: SecretBox;
  deployer: Deployer;
  resolver: FunctionResolver;
  invoker: Invoker;
  /** Batches invocation records (sync results, async "queued") into the database. */
  recorder: Recorder;
  /** Async invocations (JetStream); absent when the gateway runs without NATS. */
  asyncQueue?: AsyncQueue | undefined;
  /** Tenant queues (JetStream) that queue triggers consume; absent without NATS. */
  queues?: TenantQueues | undefined;
  liveLogs: LiveLogs;
  providers: readonly CapacityProvider[];
  /** Announces a change to a function (or a whole tenant) so every gateway drops its cached routing. */
  changed(tenantId: string, functionId?: string): void;
  /** Tenants' compiled routes. */
  routes: RouteTable;
  /** Which Host headers are tenants' (apps domain, verified custom domains). */
  hosts: HostTable;
  domainVerifier: DomainVerifier;
  /**
   * Announces a change to a tenant's routes or domains to every gateway; resolves once this
   * gateway routes by it (so the answer to the change is true on the gateway that gave it).
   */
  routingChanged(tenantId: string, what: "routes" | "domains"): Promise<void>;
  /** Base URL for function URLs shown to users. */
  publicUrl(): string;
}
