import { fileURLToPath } from "node:url";
import { booleanFlag, durationMs, parseCidr, parseOrThrow, portEnv, sharedEnv } from "@kumo/core";
import type { QuotaLimits } from "@kumo/db";
import { z } from "zod";

const quotaEnv = z.coerce.number().int().min(0).optional();

/** Gateway configuration from the environment; durations normalized to ms; every problem listed at startup. */
export const gatewayConfigSchema = z.object({
  KUMO_HOST: sharedEnv.KUMO_HOST,
  KUMO_PORT: portEnv(8080),
  KUMO_PUBLIC_URL: z.url().optional(),
  KUMO_DATA_DIR: sharedEnv.KUMO_DATA_DIR,
  DATABASE_URL: sharedEnv.DATABASE_URL,
  KUMO_DATABASE_SCHEMA: sharedEnv.KUMO_DATABASE_SCHEMA,
  NATS_URL: sharedEnv.NATS_URL,
  KUMO_BUS_NAMESPACE: sharedEnv.KUMO_BUS_NAMESPACE,
  /** A repeated kumo-idempotency-key within this window returns the first invocation's id. */
  KUMO_IDEMPOTENCY_WINDOW: durationMs.pipe(z.number().min(1000)).default(86_400_000),
  KUMO_ADMIN_KEY: z.string().min(24, "must be at least 24 characters").optional(),
  KUMO_MASTER_KEY: sharedEnv.KUMO_MASTER_KEY,
  KUMO_LOG_LEVEL: sharedEnv.KUMO_LOG_LEVEL,
  KUMO_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(10 * 1024 * 1024),
  KUMO_API_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  KUMO_KEY_CACHE_TTL: durationMs.default(5000),
  KUMO_EDGE_HOSTS: z.coerce.number().int().min(1).max(64).optional(),
  KUMO_EDGE_ALLOW_PRIVATE_FETCH: sharedEnv.KUMO_EDGE_ALLOW_PRIVATE_FETCH,
  KUMO_EDGE_HOST_NODE_ARGS: sharedEnv.KUMO_EDGE_HOST_NODE_ARGS,
  /** Largest edge bundle (code plus bundled npm dependencies) a deploy accepts. */
  KUMO_EDGE_BUNDLE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .default(10 * 1024 * 1024),
  KUMO_RECORD_FLUSH: durationMs.default(250),
  KUMO_VERSION_RETENTION: z.coerce.number().int().min(1).max(100_000).default(50),
  KUMO_APPS_DOMAIN: z
    .string()
    .regex(
      /^(?=.{1,200}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
      "must be a lowercase DNS name such as apps.example.com",
    )
    .default("kumo.localhost"),
  /** `<function>.<tenant>.<apps domain>` serves the function's live alias at `/` (presented as `hostUrl`). */
  KUMO_FUNCTION_HOSTS: booleanFlag.default(true),
  KUMO_ROLLOUT_TICK: durationMs.default(1000),
  KUMO_DOMAIN_REFRESH: durationMs.default(30_000),
  /** An unverified custom-domain claim expires after this long; it never blocks other tenants. */
  KUMO_DOMAIN_CLAIM_TTL: durationMs.pipe(z.number().min(1000)).default(7 * 86_400_000),
  /** The builder's gRPC BuildService: host:port or unix:/path; "off" refuses container runtimes. */
  KUMO_BUILDER_URL: z.string().min(1).default("127.0.0.1:8091"),
  /** A build running longer is stopped by the builder; a restarted gateway fails older unfinished ones. */
  KUMO_BUILD_TIMEOUT: durationMs.pipe(z.number().min(1000)).default(600_000),
  /** Metrics rollups: 1-minute rows are kept this long, 1-hour rows this long. */
  KUMO_METRICS_MINUTE_RETENTION: durationMs.pipe(z.number().min(3_600_000)).default(14 * 86_400_000),
  KUMO_METRICS_HOUR_RETENTION: durationMs.pipe(z.number().min(86_400_000)).default(400 * 86_400_000),
  /** How often a gateway compacts minute rollups into hours and purges old ones (one gateway at a time). */
  KUMO_METRICS_MAINTENANCE_INTERVAL: durationMs.pipe(z.number().min(1000)).default(60_000),
  KUMO_LOG_CAP_BYTES: sharedEnv.KUMO_LOG_CAP_BYTES,
  /** Function logs are kept this long, unless the tenant has its own `logRetentionDays`. */
  KUMO_LOG_RETENTION: durationMs.pipe(z.number().min(3_600_000)).default(30 * 86_400_000),
  /** How often a gateway purges logs past retention (one gateway at a time). */
  KUMO_LOG_PURGE_INTERVAL: durationMs.pipe(z.number().min(1000)).default(300_000),
  /** The built web console served at `/`; default this checkout's packages/console/dist. */
  KUMO_CONSOLE_DIR: z.string().min(1).optional(),
  /** The built guide (docs/, VitePress) served at `/guide`; default this checkout's docs/.vitepress/dist. */
  KUMO_DOCS_DIR: z.string().min(1).optional(),
  /** Draft runs (`POST /v1/run`, `…/draft-runs`) per tenant and minute, per gateway; and the burst. */
  KUMO_DRAFT_RATE: z.coerce.number().min(1).max(1_000_000).default(120),
  KUMO_DRAFT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(20),
  /** Comma-separated CIDRs of proxies whose X-Forwarded-For names the client (IP allowlists, rate limits by ip). */
  KUMO_TRUSTED_PROXIES: z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((c) => c.trim())
        .filter(Boolean),
    )
    .refine((list) => list.every((c) => parseCidr(c) !== undefined), {
      message: 'must be comma-separated IP addresses or CIDRs such as "10.0.0.0/8, 127.0.0.1"',
    }),
  /** Let functions' jwksUrl reach loopback, private and link-local addresses (off: the SSRF policy applies). */
  KUMO_JWKS_ALLOW_PRIVATE: booleanFlag.default(false),
  /** A fetched JWKS is refreshed in the background after this long. */
  KUMO_JWKS_CACHE_TTL: durationMs.pipe(z.number().min(1000)).default(600_000),
  /** At most one JWKS fetch per URL this often (unknown key ids trigger a refresh). */
  KUMO_JWKS_MIN_REFRESH: durationMs.pipe(z.number().min(0)).default(30_000),
  /** How often gateways exchange rate-limit counts over NATS: the staleness of each one's view. */
  KUMO_RATE_LIMIT_SYNC: durationMs.pipe(z.number().min(10).max(10_000)).default(100),
  /** Installation-wide default tenant quotas (a tenant's own, set by the platform admin, wins); unset: unlimited. */
  KUMO_QUOTA_FUNCTIONS: quotaEnv,
  KUMO_QUOTA_VERSIONS_PER_FUNCTION: quotaEnv,
  KUMO_QUOTA_CONCURRENCY: quotaEnv,
  KUMO_QUOTA_INVOCATIONS_PER_DAY: quotaEnv,
  KUMO_QUOTA_BUILD_MINUTES_PER_DAY: quotaEnv,
  KUMO_QUOTA_STORED_BYTES: quotaEnv,
  /** How long a gateway trusts its copy of a tenant's quotas and its invocations-per-day count from the rollups. */
  KUMO_QUOTA_REFRESH: durationMs.pipe(z.number().min(100).max(600_000)).default(10_000),
  /** Audit entries are kept this long; purged in batches every KUMO_LOG_PURGE_INTERVAL. */
  KUMO_AUDIT_RETENTION: durationMs.pipe(z.number().min(86_400_000)).default(365 * 86_400_000),
});

export interface GatewayConfig {
  host: string;
  port: number;
  publicUrl: string | undefined;
  dataDir: string;
  databaseUrl: string | undefined;
  databaseSchema: string;
  natsUrl: string;
  busNamespace: string;
  idempotencyWindowMs: number;
  adminKey: string | undefined;
  masterKey: string | undefined;
  logLevel: string;
  bodyLimitBytes: number;
  apiBodyLimitBytes: number;
  keyCacheTtlMs: number;
  edgeHosts: number | undefined;
  edgeAllowPrivateFetch: boolean;
  /** Extra node flags of the isolate host processes (profiling). */
  edgeHostNodeArgs: string[];
  edgeBundleMaxBytes: number;
  recordFlushMs: number;
  /** Versions kept per function; older ones that nothing points at are pruned after each deploy. */
  versionRetention: number;
  /** `<tenant>.<appsDomain>` serves the tenant's routes. */
  appsDomain: string;
  /** `<function>.<tenant>.<appsDomain>` serves the function's live alias at "/". */
  functionHosts: boolean;
  /** How often the rollout driver looks for due steps. */
  rolloutTickMs: number;
  /** Bound on how long another gateway's domain verification takes to reach this one. */
  domainRefreshMs: number;
  /** How long a pending (unverified) domain claim lives before it expires. */
  domainClaimTtlMs: number;
  /** gRPC address of the builder, or undefined when container builds are off. */
  builderUrl: string | undefined;
  buildTimeoutMs: number;
  metricsMinuteRetentionMs: number;
  metricsHourRetentionMs: number;
  metricsMaintenanceMs: number;
  /** Per-invocation cap of stored log bytes. */
  logCapBytes: number;
  logRetentionMs: number;
  logPurgeIntervalMs: number;
  /** Directory of the built console (index.html, assets/). */
  consoleDir: string;
  /** Directory of the built guide (index.html, assets/), served at /guide. */
  docsDir: string;
  /** Draft runs a tenant may start per minute on this gateway, and at once. */
  draftRatePerMinute: number;
  draftBurst: number;
  /** Proxies whose X-Forwarded-For is believed (CIDRs). */
  trustedProxies: string[];
  jwksAllowPrivate: boolean;
  jwksCacheTtlMs: number;
  jwksMinRefreshMs: number;
  rateLimitSyncMs: number;
  /** Quotas of tenants that have none of their own (null: unlimited). */
  defaultQuotas: QuotaLimits;
  quotaRefreshMs: number;
  auditRetentionMs: number;
}

export function loadGatewayConfig(env: Record<string, string | undefined>): GatewayConfig {
  const c = parseOrThrow(gatewayConfigSchema, env, "gateway configuration");
  return {
    host: c.KUMO_HOST,
    port: c.KUMO_PORT,
    publicUrl: c.KUMO_PUBLIC_URL,
    dataDir: c.KUMO_DATA_DIR,
    databaseUrl: c.DATABASE_URL,
    databaseSchema: c.KUMO_DATABASE_SCHEMA,
    natsUrl: c.NATS_URL,
    busNamespace: c.KUMO_BUS_NAMESPACE,
    idempotencyWindowMs: c.KUMO_IDEMPOTENCY_WINDOW,
    adminKey: c.KUMO_ADMIN_KEY,
    masterKey: c.KUMO_MASTER_KEY,
    logLevel: c.KUMO_LOG_LEVEL,
    bodyLimitBytes: c.KUMO_BODY_LIMIT_BYTES,
    apiBodyLimitBytes: c.KUMO_API_BODY_LIMIT_BYTES,
    keyCacheTtlMs: c.KUMO_KEY_CACHE_TTL,
    edgeHosts: c.KUMO_EDGE_HOSTS,
    edgeAllowPrivateFetch: c.KUMO_EDGE_ALLOW_PRIVATE_FETCH,
    edgeHostNodeArgs: c.KUMO_EDGE_HOST_NODE_ARGS.split(/\s+/).filter(Boolean),
    edgeBundleMaxBytes: c.KUMO_EDGE_BUNDLE_MAX_BYTES,
    recordFlushMs: c.KUMO_RECORD_FLUSH,
    versionRetention: c.KUMO_VERSION_RETENTION,
    appsDomain: c.KUMO_APPS_DOMAIN,
    functionHosts: c.KUMO_FUNCTION_HOSTS,
    rolloutTickMs: Math.max(10, c.KUMO_ROLLOUT_TICK),
    domainRefreshMs: Math.max(100, c.KUMO_DOMAIN_REFRESH),
    domainClaimTtlMs: c.KUMO_DOMAIN_CLAIM_TTL,
    builderUrl: c.KUMO_BUILDER_URL === "off" ? undefined : c.KUMO_BUILDER_URL,
    buildTimeoutMs: c.KUMO_BUILD_TIMEOUT,
    metricsMinuteRetentionMs: c.KUMO_METRICS_MINUTE_RETENTION,
    metricsHourRetentionMs: c.KUMO_METRICS_HOUR_RETENTION,
    metricsMaintenanceMs: c.KUMO_METRICS_MAINTENANCE_INTERVAL,
    logCapBytes: c.KUMO_LOG_CAP_BYTES,
    logRetentionMs: c.KUMO_LOG_RETENTION,
    logPurgeIntervalMs: c.KUMO_LOG_PURGE_INTERVAL,
    consoleDir:
      c.KUMO_CONSOLE_DIR ?? fileURLToPath(new URL("../../../packages/console/dist", import.meta.url)),
    docsDir: c.KUMO_DOCS_DIR ?? fileURLToPath(new URL("../../../docs/.vitepress/dist", import.meta.url)),
    draftRatePerMinute: c.KUMO_DRAFT_RATE,
    draftBurst: c.KUMO_DRAFT_BURST,
    trustedProxies: c.KUMO_TRUSTED_PROXIES,
    jwksAllowPrivate: c.KUMO_JWKS_ALLOW_PRIVATE,
    jwksCacheTtlMs: c.KUMO_JWKS_CACHE_TTL,
    jwksMinRefreshMs: c.KUMO_JWKS_MIN_REFRESH,
    rateLimitSyncMs: c.KUMO_RATE_LIMIT_SYNC,
    defaultQuotas: {
      functions: c.KUMO_QUOTA_FUNCTIONS ?? null,
      versionsPerFunction: c.KUMO_QUOTA_VERSIONS_PER_FUNCTION ?? null,
      concurrency: c.KUMO_QUOTA_CONCURRENCY ?? null,
      invocationsPerDay: c.KUMO_QUOTA_INVOCATIONS_PER_DAY ?? null,
      buildMinutesPerDay: c.KUMO_QUOTA_BUILD_MINUTES_PER_DAY ?? null,
      storedBytes: c.KUMO_QUOTA_STORED_BYTES ?? null,
    },
    quotaRefreshMs: c.KUMO_QUOTA_REFRESH,
    auditRetentionMs: c.KUMO_AUDIT_RETENTION,
  };
}
