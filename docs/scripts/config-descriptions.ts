/**
 * Descriptions of settings whose schema entry carries no doc comment. A comment on the entry (in
 * services/<name>/src/config.ts or packages/core/src/shared-env.ts, or on a kumo.json field in
 * packages/core/src/function-config.ts) wins; this map fills the rest. The reference generator and
 * its test refuse a setting described by neither, so a new variable cannot ship undocumented.
 */
export const ENV_DESCRIPTIONS: Record<string, string> = {
  KUMO_HOST: "Address the service listens on (`0.0.0.0` for all interfaces).",
  KUMO_PORT: "Gateway HTTP port: API, invocations, console and this guide (0 picks a free one).",
  KUMO_BUILDER_PORT: "Builder health and metrics port.",
  KUMO_AUTOSCALER_PORT: "Autoscaler health and metrics port.",
  KUMO_SCHEDULER_PORT: "Scheduler health and metrics port.",
  KUMO_PUBLIC_URL:
    "Base of the function URLs shown to users, when it differs from `http://KUMO_HOST:KUMO_PORT`.",
  KUMO_DATA_DIR: "Generated keys, the embedded database, build contexts, runtime sockets.",
  DATABASE_URL: "PostgreSQL URL; unset, `npm start` uses embedded PGlite in the data directory.",
  KUMO_DATABASE_SCHEMA: "PostgreSQL schema holding Kumo's tables.",
  NATS_URL: "NATS with JetStream; comma-separated URLs for a cluster.",
  KUMO_MASTER_KEY: "Encrypts secrets at rest (AES-256-GCM): 64 hex characters; `npm start` generates one.",
  KUMO_ADMIN_KEY: "Platform admin API key (creates tenants); `npm start` generates one.",
  KUMO_LOG_LEVEL: "Level of the service's own log.",
  DOCKER_HOST: "Docker engine (default `unix:///var/run/docker.sock`).",
  KUMO_BODY_LIMIT_BYTES: "Largest request body the gateway accepts for an invocation.",
  KUMO_API_BODY_LIMIT_BYTES: "Largest JSON body of a management (`/v1`) request.",
  KUMO_KEY_CACHE_TTL:
    "How long a gateway trusts its cached copy of an API key (a revoked key stops working within it).",
  KUMO_EDGE_HOSTS: "Isolate host processes of the gateway (default: half the CPU cores, at least 1).",
  KUMO_RECORD_FLUSH: "How often invocation records and logs are written to the database in a batch.",
  KUMO_VERSION_RETENTION:
    "Versions kept per function; older ones nothing points at are pruned after a deploy.",
  KUMO_APPS_DOMAIN: "`<tenant>.<domain>` serves each tenant's routes.",
  KUMO_ROLLOUT_TICK: "How often the gateway looks for due steps of gradual rollouts.",
  KUMO_DOMAIN_REFRESH: "How soon a custom-domain verification on another gateway reaches this one.",
  KUMO_QUOTA_VERSIONS_PER_FUNCTION: "Default quota: versions per function (unset: unlimited).",
  KUMO_QUOTA_CONCURRENCY: "Default quota: concurrent invocations per tenant (unset: unlimited).",
  KUMO_QUOTA_INVOCATIONS_PER_DAY: "Default quota: invocations per tenant and day (unset: unlimited).",
  KUMO_QUOTA_BUILD_MINUTES_PER_DAY: "Default quota: build minutes per tenant and day (unset: unlimited).",
  KUMO_QUOTA_STORED_BYTES:
    "Default quota: bytes of code, artifacts and logs a tenant stores (unset: unlimited).",
  KUMO_NODE_ID: "Autoscaler node identity (labels its containers); default `local`.",
  KUMO_STEM_CELL_MAX: "Most stem cells per runtime that observed demand may raise the pool to.",
  KUMO_PAUSE_AFTER: "Idle container instances are paused after this long.",
  KUMO_QUEUE_TIMEOUT: "A sync request over a function's max concurrency waits this long before FN_007.",
  KUMO_ASYNC_ACK_WAIT: "An async invocation is redelivered this long after its node stopped answering.",
  KUMO_ASYNC_RETRY_BASE: "First retry delay of a failed async invocation (doubles per attempt).",
  KUMO_ASYNC_CONCURRENCY: "Async invocations one autoscaler node runs at once.",
  KUMO_DIRECT_LINK:
    "Offer gateways on the same machine a unix socket (in the data directory, owner only) for sync invocations: while this is the only node they skip nats-server (about 0.2-0.3 ms less per call). Off: everything goes through NATS.",
  KUMO_INSTANCE_START_TIMEOUT: "A container instance not healthy within this long fails with FN_008.",
  KUMO_DESTINATION_TIMEOUT: "Time limit of one delivery attempt to a destination webhook.",
  KUMO_DESTINATION_RETRIES: "Further attempts of a destination webhook after the first.",
  KUMO_DESTINATION_RETRY_BASE: "First retry delay of a destination webhook (doubles per attempt).",
  KUMO_BUILD_TIMEOUT: "A build running longer is stopped (FN_005).",
  KUMO_BUILD_MEMORY_MB: "Memory limit of one build.",
  KUMO_BUILD_CONCURRENCY: "Builds at once per builder; others queue.",
  KUMO_BUILD_GIT_TIMEOUT: "Time limit of fetching one git source.",
  KUMO_METRICS_HOUR_RETENTION: "Hourly metrics rollups are kept this long.",
  KUMO_DRAFT_BURST: "Draft runs a tenant may start at once on one gateway (the token bucket's size).",
  KUMO_DB_TRIGGER_RETRY_MAX: "Longest backoff of a database trigger in error.",
};

/** Descriptions of kumo.json fields whose schema entry carries no doc comment. */
export const KUMO_JSON_DESCRIPTIONS: Record<string, string> = {
  $schema: "URL of the JSON schema for editors (`/v1/schema/kumo.json`); ignored by Kumo.",
  name: "The function's name; default the directory's name.",
  runtime: "Where it runs: `edge` (V8 isolate) or a container runtime.",
  handler: "Entry file (or `module.function` for Python); default the runtime's usual file.",
  memoryMb: "Memory limit of one instance or isolate (over it: FN_003).",
  timeoutMs: "Wall-clock limit of one invocation (over it: FN_002).",
  cpuMs: "CPU-time limit of one edge invocation.",
  maxBodyBytes: "Largest request body the function accepts (over it: FN_010).",
  env: "Plain environment variables of the function.",
  triggers: "Cron, queue, database and event triggers (see the Triggers guide).",
  scaling: "Container pools: instances and concurrency.",
  "scaling.minInstances": "Instances kept warm across the installation (never paused).",
  "scaling.maxInstances": "Most instances per autoscaler node.",
  "scaling.concurrency": "Invocations one instance takes at once (default 1 for python, 16 otherwise).",
  "scaling.maxConcurrency":
    "In-flight invocations across the installation (default `concurrency × maxInstances`).",
  "scaling.idleTtlMs": "An idle instance is removed after this long (scale to zero).",
  egress: "Container functions may open network connections (off: no network at all).",
  routes: "Extra public HTTP routes of the function (method, path, host).",
  maxRetries: "Retries of a failed async invocation before it is dead-lettered.",
  "alert.url": "Webhook (http or https) the failure alert is POSTed to.",
  "alert.after": "Failures in a row before the alert is sent.",
  "alert.format": "`json`, or `slack` for a Slack-compatible incoming webhook.",
  "rateLimit.requests": "Requests allowed per window, across all gateways.",
  "rateLimit.per": "The window: one second or one minute.",
  "rateLimit.by":
    "What is counted separately: the whole function, each key, each client address, or a JWT claim.",
  "cors.methods": "Methods cross-origin requests may use.",
  "cors.credentials": "Allow cookies and credentials (not with origin `*`).",
  "cors.maxAge": "How long a browser may cache the preflight answer.",
  "destinations.onSuccess": "Webhook told when an async invocation succeeded.",
  "destinations.onFailure": "Webhook told when an async invocation failed after its last retry.",
};
