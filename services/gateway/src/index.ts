import { join } from "node:path";
import { connectBus, type NatsConnection, subjects, TenantQueues } from "@kumo/bus";
import type { CapacityProvider } from "@kumo/core";
import { generateHexKey, loadOrCreateKeyFile, Periodic, redactUrl, SecretBox } from "@kumo/core";
import {
  compactMetrics,
  type DatabaseHandle,
  openServiceDatabase,
  purgeAudit,
  purgeLogs,
  purgeMetrics,
  Recorder,
} from "@kumo/db";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import { buildApp } from "./app.ts";
import { generateApiKey } from "./auth/api-key.ts";
import { Authenticator } from "./auth/authenticator.ts";
import { InvocationGuard } from "./auth/invocation-guard.ts";
import { JwksCache } from "./auth/jwks-cache.ts";
import { JwksFetcher } from "./auth/jwks-fetcher.ts";
import { JwtVerifier } from "./auth/jwt-verifier.ts";
import type { GatewayConfig } from "./config.ts";
import type { GatewayContext } from "./context.ts";
import { Deployer, type EdgeBundler, type ImageBuildClient } from "./deploy/deployer.ts";
import { AsyncQueue } from "./invoke/async-queue.ts";
import { ContainerProvider } from "./invoke/container-provider.ts";
import { FunctionResolver } from "./invoke/function-resolver.ts";
import { Invoker } from "./invoke/invoker.ts";
import { LiveLogs } from "./invoke/live-logs.ts";
import { cidrList } from "./limits/client-address.ts";
import { RateLimitGossip } from "./limits/rate-limit-gossip.ts";
import { RateLimiter } from "./limits/rate-limiter.ts";
import { TenantQuotas } from "./limits/tenant-quotas.ts";
import { GatewayMetrics } from "./metrics.ts";
import { RolloutDriver } from "./rollouts/rollout-driver.ts";
import { DomainVerifier, type TxtResolver } from "./routing/domain-verifier.ts";
import { HostTable } from "./routing/host-table.ts";
import { RouteTable } from "./routing/route-table.ts";

export { generateApiKey, hashApiKey } from "./auth/api-key.ts";
export { type GatewayConfig, loadGatewayConfig } from "./config.ts";
export type { ImageBuildClient } from "./deploy/deployer.ts";

export interface GatewayDeps {
  /** An open database; when absent, start() opens one from config and closes it on stop. */
  database?: DatabaseHandle;
  /** A NATS connection; when absent, start() connects to config.natsUrl. `null` runs without a bus. */
  nats?: NatsConnection | null;
  /** Capacity providers; when absent, the edge isolate host is started. */
  providers?: CapacityProvider[];
  bundleEdge?: EdgeBundler;
  /** Container builds; when absent, a BuildClient for config.builderUrl (null: no builder). */
  builder?: ImageBuildClient | null;
  /** Where start() reports what it did (admin key created, where data lives). */
  log?: (line: string) => void;
  /** Skip listening (tests use app.inject()). */
  listen?: boolean;
  /** TXT lookups for domain verification; node's resolver when absent. Tests pass a fake. */
  resolveTxt?: TxtResolver;
}

export interface Gateway {
  app: FastifyInstance;
  context: GatewayContext;
  /** The URL the gateway listens on (or would). */
  url: string;
  adminKey: string;
  database: DatabaseHandle;
  /** What this installation's NATS subjects, streams and buckets are named by (see @kumo/bus). */
  namespace: string;
  /** Writes buffered invocation records and metrics rollups now (tests and shutdown). */
  flushRecords(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the gateway: database, bus, isolate host, HTTP. `stop()` drains and closes in reverse order. */
export async function start(config: GatewayConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  const log = deps.log ?? (() => {});
  const cleanup: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
  };
  try {
    // Every subject, stream and bucket carries the installation's identity (or the configured one).
    const { database, platform, namespace, close } = await openServiceDatabase(config, deps.database);
    cleanup.push(close);

    const nc =
      deps.nats === undefined
        ? await connectBus({ url: config.natsUrl, name: "kumo-gateway" })
        : (deps.nats ?? undefined);
    if (deps.nats === undefined && nc) cleanup.push(() => nc.drain());

    const adminKey =
      config.adminKey ??
      loadKey(join(config.dataDir, "admin.key"), generateApiKey, log, "platform admin key", true);
    const masterKey =
      config.masterKey ??
      loadKey(join(config.dataDir, "master.key"), generateHexKey, log, "secrets master key", false);

    let providers = deps.providers;
    let bundleEdge = deps.bundleEdge;
    if (!providers || !bundleEdge) {
      const edge = await import("@kumo/edge");
      bundleEdge ??= edge.bundleEdgeFunction;
      if (!providers) {
        const provider = await edge.createEdgeProvider({
          ...(config.edgeHosts ? { hosts: config.edgeHosts } : {}),
          hostNodeArgs: config.edgeHostNodeArgs,
          fetch: { allowPrivateAddresses: config.edgeAllowPrivateFetch },
        });
        providers = [provider];
      }
    }
    const ownedProviders = deps.providers ? [] : [...providers];
    // Container runtimes run on autoscaler nodes reached over NATS, next to whatever else is registered.
    if (nc && !providers.some((p) => p.supports("node"))) {
      const containers = new ContainerProvider({ nc, namespace });
      providers = [...providers, containers];
      ownedProviders.push(containers);
    }
    cleanup.push(async () => {
      for (const p of ownedProviders) await p.stop();
    });

    // Builds run inside the gateway process that accepted them: one that stopped left its unfinished
    // deployments behind. Older than the build timeout, nothing can still be working on them.
    const interrupted = await platform.failInterruptedDeployments(
      config.buildTimeoutMs + 60_000,
      "interrupted: the gateway running this build stopped before it finished; deploy again",
    );
    if (interrupted > 0) log(`marked ${interrupted} interrupted deployment(s) as failed (FN_005)`);
    let builder = deps.builder ?? undefined;
    if (deps.builder === undefined && config.builderUrl) {
      const { BuildClient } = await import("@kumo/builder/client");
      const client = new BuildClient(config.builderUrl);
      cleanup.push(async () => client.close());
      builder = client;
    }
    const metrics = new GatewayMetrics();
    const secretBox = new SecretBox(Buffer.from(masterKey, "hex"));
    const resolver = new FunctionResolver({ platform, secretBox });
    const liveLogs = new LiveLogs(nc, namespace);
    const recorder = new Recorder({
      db: database.db,
      flushMs: config.recordFlushMs,
      onError: (error) => log(`recording invocations failed: ${String(error)}`),
    });
    // Records and this gateway's metrics rollups, written whole before the database closes.
    cleanup.push(() => recorder.drain());
    // Housekeeping every gateway runs; advisory locks make one gateway do each pass at a time.
    // Metrics: ended hours' minute rows merged into hour rows, then rows past retention deleted.
    const maintainer = new Periodic({
      everyMs: config.metricsMaintenanceMs,
      pass: async (now) => {
        await compactMetrics(database.db, { now });
        await purgeMetrics(database.db, {
          now,
          minuteRetentionMs: config.metricsMinuteRetentionMs,
          hourRetentionMs: config.metricsHourRetentionMs,
        });
      },
      onError: (error) => log(`metrics rollup maintenance failed: ${String(error)}`),
    }).start();
    cleanup.push(() => maintainer.stop());
    // Logs past their tenant's retention, in statements of at most 5,000 rows (see purgeLogs).
    const logPurger = new Periodic({
      everyMs: config.logPurgeIntervalMs,
      pass: (now) => purgeLogs(database.db, { now, defaultRetentionMs: config.logRetentionMs }),
      onError: (error) => log(`purging logs past retention failed: ${String(error)}`),
    }).start();
    cleanup.push(() => logPurger.stop());
    // Audit entries past KUMO_AUDIT_RETENTION, in the same batches, on the same schedule.
    const auditPurger = new Periodic({
      everyMs: config.logPurgeIntervalMs,
      pass: (now) => purgeAudit(database.db, { now, retentionMs: config.auditRetentionMs }),
      onError: (error) => log(`purging audit entries past retention failed: ${String(error)}`),
    }).start();
    cleanup.push(() => auditPurger.stop());
    const asyncQueue = nc
      ? new AsyncQueue({
          nc,
          namespace,
          recorder,
          idempotencyWindowMs: config.idempotencyWindowMs,
        })
      : undefined;
    await asyncQueue?.start();
    if (asyncQueue) cleanup.push(async () => asyncQueue.stop());
    const queues = nc ? new TenantQueues({ nc, namespace }) : undefined;
    await queues?.start();
    if (queues) cleanup.push(async () => queues.stop());

    // Tenant quotas: limits cached per tenant, runtime counters in process (see TenantQuotas).
    const quotas = new TenantQuotas({
      platform,
      defaults: config.defaultQuotas,
      refreshMs: config.quotaRefreshMs,
      staleMs: Math.max(1000, 20 * config.rateLimitSyncMs),
      onError: (e) => log(`loading tenant quotas or usage failed: ${String(e)}`),
    });
    const routes = new RouteTable({ platform });
    const hosts = new HostTable({
      platform,
      appsDomain: config.appsDomain,
      functionHosts: config.functionHosts,
      refreshMs: config.domainRefreshMs,
      onError: (error) => log(`loading custom domains failed: ${String(error)}`),
    });
    await hosts.refresh();
    hosts.start();
    cleanup.push(async () => hosts.stop());
    const dropRouting = async (tenantId: string, what: "routes" | "domains"): Promise<void> => {
      routes.evict(tenantId);
      if (what === "domains")
        await hosts.refresh().catch((e: unknown) => log(`loading custom domains failed: ${String(e)}`));
    };

    // Changes made through any gateway evict the routing caches of all of them.
    const announce = (tenantId: string, functionId?: string) => {
      resolver.evict(tenantId, functionId);
      if (functionId === undefined) quotas.evict(tenantId);
      nc?.publish(subjects.changes(tenantId, namespace), JSON.stringify({ functionId: functionId ?? null }));
    };
    const announceRouting = (tenantId: string, what: "routes" | "domains"): Promise<void> => {
      nc?.publish(subjects.changes(tenantId, namespace), JSON.stringify({ functionId: null, routing: what }));
      return dropRouting(tenantId, what);
    };
    if (nc) {
      const sub = nc.subscribe(subjects.changesAll(namespace), {
        callback: (error, msg) => {
          if (error) return;
          const tenantId = msg.subject.split(".").at(-1) ?? "";
          const { functionId, routing } = msg.json<{
            functionId: string | null;
            routing?: "routes" | "domains";
          }>();
          if (routing === "routes" || routing === "domains") void dropRouting(tenantId, routing);
          else {
            resolver.evict(tenantId, functionId ?? undefined);
            if (functionId === null) quotas.evict(tenantId);
          }
        },
      });
      cleanup.push(async () => sub.unsubscribe());
    }

    const url = config.publicUrl ?? `http://${config.host}:${config.port}`;
    const auth = new Authenticator({
      platform,
      adminKey,
      cacheTtlMs: config.keyCacheTtlMs,
      onError: (e) => log(`touching key failed: ${String(e)}`),
    });
    // Rate limits: in-process counters, exchanged with the other gateways over NATS (see RateLimiter).
    const limiter = new RateLimiter();
    if (nc) {
      const gossip = new RateLimitGossip({
        nc,
        namespace,
        limiter,
        quotas,
        syncMs: config.rateLimitSyncMs,
        onError: (e) => log(`rate-limit gossip failed: ${String(e)}`),
      }).start();
      cleanup.push(async () => gossip.stop());
    }
    const guard = new InvocationGuard({
      auth,
      limiter,
      trustedProxies: config.trustedProxies.length > 0 ? cidrList(config.trustedProxies) : undefined,
      jwt: new JwtVerifier({
        jwks: new JwksCache({
          fetcher: new JwksFetcher({ allowPrivate: config.jwksAllowPrivate, timeoutMs: 5000 }),
          ttlMs: config.jwksCacheTtlMs,
          minRefreshMs: config.jwksMinRefreshMs,
          onError: (jwksUrl, e) => log(`fetching the JWKS at ${redactUrl(jwksUrl)} failed: ${String(e)}`),
        }),
      }),
    });
    const context: GatewayContext = {
      config,
      platform,
      auth,
      guard,
      quotas,
      secretBox,
      deployer: new Deployer({
        bundleEdge,
        ...(builder ? { builder } : {}),
        onChange: (tenantId, functionId) => announce(tenantId, functionId),
        versionRetention: config.versionRetention,
        onError: (error) => log(`pruning old versions failed: ${String(error)}`),
        edgeDependencyCacheDir: join(config.dataDir, "edge-deps"),
        edgeBundleMaxBytes: config.edgeBundleMaxBytes,
      }),
      resolver,
      changed: announce,
      invoker: new Invoker({
        resolver,
        providers,
        recorder,
        liveLogs,
        metrics,
        logCapBytes: config.logCapBytes,
      }),
      recorder,
      asyncQueue,
      queues,
      liveLogs,
      providers,
      routes,
      hosts,
      domainVerifier: new DomainVerifier(deps.resolveTxt),
      routingChanged: announceRouting,
      publicUrl: () => url,
    };
    const app = await buildApp(context, {
      metrics,
      logger: config.logLevel === "silent" ? false : { level: config.logLevel },
      readiness: async () => ({
        database: await database.db
          .executeQuery(sql`select 1`.compile(database.db))
          .then(() => true)
          .catch(() => false),
        nats: nc ? !nc.isClosed() : true,
      }),
    });
    cleanup.push(() => app.close());
    const rollouts = new RolloutDriver({
      platform,
      tickMs: config.rolloutTickMs,
      flushRecords: () => recorder.flush(),
      changed: announce,
      onError: (error) => log(`rollout step failed: ${String(error)}`),
    });
    rollouts.start();
    cleanup.push(() => rollouts.stop());
    if (deps.listen !== false) {
      await app.listen({ host: config.host, port: config.port });
    }
    const address = app.server.address();
    const boundUrl = typeof address === "object" && address ? `http://${config.host}:${address.port}` : url;
    return {
      app,
      context,
      url: config.publicUrl ?? boundUrl,
      adminKey,
      database,
      namespace,
      flushRecords: () => recorder.drain(),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function loadKey(
  path: string,
  generate: () => string,
  log: (line: string) => void,
  what: string,
  show: boolean,
): string {
  const result = loadOrCreateKeyFile(path, generate);
  if (result.created)
    log(`generated the ${what} into ${path} (mode 0600)${show ? `; shown once: ${result.value}` : ""}`);
  return result.value;
}
