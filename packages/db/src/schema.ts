import type { TriggerAlert, TriggerSettings } from "@kumo/core";
import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/** Kysely table types. Timestamps are timestamptz; JSON columns are jsonb. */

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string, string>;

export const ROLES = ["admin", "developer", "invoker", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export interface TenantsTable {
  id: string;
  name: string;
  created_at: CreatedAt;
  /** Days the tenant's function logs are kept; null: the installation's default. Since 0012. */
  log_retention_days: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface ApiKeysTable {
  id: string;
  /** Null for platform-admin keys stored in the database (none today; the admin key comes from config). */
  tenant_id: string;
  name: string;
  role: Role;
  /** sha256 of the key; the key itself is shown once and never stored. */
  key_hash: string;
  created_at: CreatedAt;
  created_by: string | null;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  /** Function names the key may act on; null: all of its tenant's. Since 0014. */
  functions: ColumnType<string[] | null, string | null | undefined, string | null>;
  /** The key stops working at this time; null: never. Since 0014. */
  expires_at: NullableTimestamp;
}

export interface FunctionsTable {
  id: string;
  tenant_id: string;
  name: string;
  runtime: string;
  config: Json<unknown>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface VersionsTable {
  id: string;
  tenant_id: string;
  function_id: string;
  version: number;
  runtime: string;
  source_digest: string;
  artifact: string;
  config: Json<unknown>;
  deployment_id: string | null;
  created_by: string | null;
  created_at: CreatedAt;
  /** What this deploy changed against the version before it; null for versions older than 0002. */
  changes: ColumnType<VersionChanges | null, string | null | undefined, never>;
  /** Digest of the "code-tar" artifact (the built /var/task tree) of container builds; null otherwise. Since 0003. */
  code_artifact: ColumnType<string | null, string | null | undefined, never>;
}

/** A version's "what changed" summary, computed once at deploy time. */
export interface VersionChanges {
  /** The version this one is compared with (the newest before it), or null for the first. */
  previousVersion: number | null;
  sourceChanged: boolean;
  runtimeChanged: boolean;
  /** Top-level kumo.json keys whose values differ (added, removed or changed). */
  configKeys: string[];
}

export interface ArtifactsTable {
  tenant_id: string;
  digest: string;
  kind: string;
  content: Uint8Array;
  size: number;
  created_at: CreatedAt;
}

export interface RoutingEntry {
  version: number;
  weight: number;
}

export interface AliasesTable {
  tenant_id: string;
  function_id: string;
  name: string;
  routing: Json<RoutingEntry[]>;
  updated_at: Timestamp;
  updated_by: string | null;
}

export interface EnvVarsTable {
  tenant_id: string;
  function_id: string;
  key: string;
  value: string;
  updated_at: Timestamp;
}

export interface SecretsTable {
  tenant_id: string;
  name: string;
  version: number;
  /** AES-256-GCM: iv (12) | tag (16) | ciphertext; never plaintext. */
  sealed: Uint8Array;
  key_id: string;
  created_at: CreatedAt;
  deleted_at: NullableTimestamp;
}

export const DEPLOYMENT_STATUSES = ["queued", "building", "succeeded", "failed"] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

export interface DeploymentsTable {
  id: string;
  tenant_id: string;
  function_id: string;
  status: DeploymentStatus;
  source_kind: string;
  source_digest: string | null;
  version: number | null;
  error_code: string | null;
  error_message: string | null;
  log: ColumnType<string, string | undefined, string>;
  created_by: string | null;
  created_at: CreatedAt;
  finished_at: NullableTimestamp;
}

export const INVOCATION_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type InvocationStatus = (typeof INVOCATION_STATUSES)[number];

export interface InvocationsTable {
  id: string;
  tenant_id: string;
  function_id: string;
  version_id: string | null;
  version: number | null;
  trigger: string;
  status: InvocationStatus;
  error_code: string | null;
  error_message: string | null;
  status_code: number | null;
  duration_ms: number | null;
  cold_start: string | null;
  queue_ms: number | null;
  request_bytes: number | null;
  response_bytes: number | null;
  trace_id: string | null;
  started_at: Timestamp;
  finished_at: NullableTimestamp;
  /** Async: attempts started so far (a redrive keeps counting). */
  attempts: ColumnType<number, number | undefined, number>;
  /** Orders the writes of one invocation; see `recordSeq`. 0 for sync records. */
  record_seq: ColumnType<number, number | undefined, number>;
  /** Async: the function's response body (capped) and headers. */
  result: Uint8Array | null;
  result_headers: ColumnType<[string, string][] | null, string | null | undefined, string | null>;
  idempotency_key: string | null;
  /** Sequence of the message in the dead-letter stream while the invocation sits there. */
  dead_letter_seq: ColumnType<string | null, number | string | null | undefined, number | string | null>;
  /** The trigger that started it (cron, ...), null for HTTP and API calls. Since 0007. */
  trigger_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** CPU time the invocation used, as its runtime measured it; null when unknown. Since 0016. */
  cpu_ms: ColumnType<number | null, number | null | undefined, number | null>;
  /** Memory it held (isolate heap, container rss) when it ended; null when unknown. Since 0016. */
  memory_bytes: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface LogsTable {
  id: Generated<string>;
  tenant_id: string;
  function_id: string;
  invocation_id: string | null;
  ts: Timestamp;
  level: string;
  /** The line as the function wrote it (a JSON line too, so text search sees every field). */
  message: string;
  /** The line's fields when it is a JSON object; null otherwise. Since 0012. */
  fields: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  /** The function version that wrote it; null for lines of no version (a stem cell). Since 0012. */
  version: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface AuditEventsTable {
  id: Generated<string>;
  tenant_id: string;
  actor: string | null;
  action: string;
  target: string;
  details: Json<unknown>;
  at: CreatedAt;
  /** The client's address (after trusted proxies); null for entries older than 0015 or without a request. */
  address: ColumnType<string | null, string | null | undefined, string | null>;
  /** "ok", or for refused and failed management actions "denied" / "failed" (details.code says why). Since 0015. */
  outcome: ColumnType<AuditOutcome, AuditOutcome | undefined, AuditOutcome>;
}

export const AUDIT_OUTCOMES = ["ok", "denied", "failed"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** A tenant's quotas (since 0015); a null column: the installation's default. */
export interface TenantQuotasTable {
  tenant_id: string;
  functions: number | null;
  versions_per_function: number | null;
  concurrency: number | null;
  /** bigint: read as a string by pg. */
  invocations_per_day: ColumnType<string | null, number | null, number | null>;
  build_minutes_per_day: number | null;
  stored_bytes: ColumnType<string | null, number | null, number | null>;
  updated_by: string | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export const ROLLOUT_STATUSES = ["running", "completed", "rolled_back", "cancelled"] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];

export interface RolloutsTable {
  id: string;
  tenant_id: string;
  function_id: string;
  alias: string;
  from_version: number;
  to_version: number;
  /** Weights of the new version, in percent, ending with 100. */
  steps: Json<number[]>;
  /** Index into steps of the weight now applied. */
  step_index: number;
  interval_ms: number;
  /** A fraction in [0, 1]. */
  max_error_rate: number;
  min_requests: number;
  status: RolloutStatus;
  step_started_at: Timestamp;
  /** When a driver next looks at it; also a lease: a driver that claims it pushes it forward. */
  next_step_at: Timestamp;
  last_error_rate: number | null;
  last_total: number | null;
  reason: string | null;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  finished_at: NullableTimestamp;
}

export const ROUTE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "ANY"] as const;
export type RouteMethod = (typeof ROUTE_METHODS)[number];

export interface RoutesTable {
  id: string;
  tenant_id: string;
  method: RouteMethod;
  /** As written: "/users/:id/*". */
  path: string;
  /** Params renamed away ("/users/:/*"): two patterns that match the same requests share it. */
  pattern_key: string;
  /** Null: the apps-domain host and the /r/ prefix. */
  host: string | null;
  /** "name" or "name@alias" / "name@vN". */
  target: string;
  created_by: string | null;
  created_at: CreatedAt;
}

export const DOMAIN_STATUSES = ["pending", "verified"] as const;
export type DomainStatus = (typeof DOMAIN_STATUSES)[number];

export interface DomainsTable {
  /** With tenant_id, the key: several tenants may claim a hostname, only one may verify it. */
  hostname: string;
  tenant_id: string;
  status: DomainStatus;
  token: string;
  created_by: string | null;
  created_at: CreatedAt;
  verified_at: NullableTimestamp;
  /** "dns" or "platform-admin". */
  verified_by: string | null;
}

/** Kinds of trigger rows. */
export const TRIGGER_ROW_KINDS = ["cron", "event", "queue", "database"] as const;
export type TriggerRowKind = (typeof TRIGGER_ROW_KINDS)[number];
/**
 * skip: no new run while the previous run of the trigger is queued or running; queue: the slot waits
 * for that run to end (at most one waits); allow: runs overlap.
 */
export const TRIGGER_OVERLAPS = ["skip", "allow", "queue"] as const;
export type TriggerOverlap = (typeof TRIGGER_OVERLAPS)[number];
/** Slots missed while no scheduler ran: none, the latest one, or each (within catch_up_window_ms). */
export const TRIGGER_CATCH_UPS = ["skip", "once", "all"] as const;
export type TriggerCatchUp = (typeof TRIGGER_CATCH_UPS)[number];
/** "config": declared in kumo.json, replaced on each deploy; "api": managed through the API. */
export const TRIGGER_SOURCES = ["config", "api"] as const;
export type TriggerSource = (typeof TRIGGER_SOURCES)[number];
/** A run's outcome as the trigger shows it; "error" is a trigger that could not fire (see last_error). */
export const TRIGGER_RUN_STATUSES = ["queued", "running", "succeeded", "failed", "skipped", "error"] as const;
export type TriggerRunStatus = (typeof TRIGGER_RUN_STATUSES)[number];

export interface TriggersTable {
  id: string;
  tenant_id: string;
  function_id: string;
  kind: TriggerRowKind;
  /** The alias ("live") or version ("v3") a firing invokes. */
  target: ColumnType<string, string | undefined, string>;
  /** Cron triggers only (null for event triggers). */
  schedule: ColumnType<string | null, string | null | undefined, string | null>;
  /** Event triggers only: the event types it receives (`user.*`); since 0008. */
  event_pattern: ColumnType<string | null, string | null | undefined, string | null>;
  /** IANA zone the schedule is read in. */
  timezone: ColumnType<string, string | undefined, string>;
  overlap: ColumnType<TriggerOverlap, TriggerOverlap | undefined, TriggerOverlap>;
  catch_up: ColumnType<TriggerCatchUp, TriggerCatchUp | undefined, TriggerCatchUp>;
  catch_up_window_ms: ColumnType<number, number | undefined, number>;
  paused: ColumnType<boolean, boolean | undefined, boolean>;
  source: TriggerSource;
  /** The next slot the scheduler fires (its cursor); null when the schedule never fires again. */
  next_fire_at: NullableTimestamp;
  /** The last slot fired by the schedule (manual fires do not move it). */
  last_scheduled_at: NullableTimestamp;
  last_fired_at: NullableTimestamp;
  last_invocation_id: ColumnType<string | null, string | null | undefined, string | null>;
  last_status: ColumnType<
    TriggerRunStatus | null,
    TriggerRunStatus | null | undefined,
    TriggerRunStatus | null
  >;
  consecutive_failures: ColumnType<number, number | undefined, number>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  /** Queue and database triggers: what they listen to (see TriggerSettings); since 0009. */
  settings: ColumnType<TriggerSettings | null, string | null | undefined, string | null>;
  /** What the trigger's consumer reports about its source (lag, slot, connection error). */
  source_state: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  /** Overlap "queue": the slot waiting for the previous run to end. */
  queued_slot: NullableTimestamp;
  jitter_ms: ColumnType<number, number | undefined, number>;
  alert: ColumnType<TriggerAlert | null, string | null | undefined, string | null>;
  alert_status: ColumnType<TriggerAlertStatus, TriggerAlertStatus | undefined, TriggerAlertStatus>;
  /** How the last alert delivery went. */
  alert_delivery: ColumnType<AlertDelivery | null, string | null | undefined, string | null>;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export const TRIGGER_ALERT_STATUSES = ["ok", "alerting"] as const;
export type TriggerAlertStatus = (typeof TRIGGER_ALERT_STATUSES)[number];

/** The last alert sent for a trigger. */
export interface AlertDelivery {
  kind: "failure" | "recovery";
  at: string;
  invocationId: string | null;
  delivered: boolean;
  statusCode?: number;
  error?: string;
}

/** What an alert rule watches (see migration 0013). */
export const ALERT_METRICS = ["error_rate", "p95_ms", "throttles", "dead_letters", "failed_deploys"] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];
export type AlertRuleState = "ok" | "firing";

/** Where a rule's notifications go: the same shape as a trigger's alert, without `after`. */
export interface AlertWebhook {
  url: string;
  format: "json" | "slack";
  secret?: string;
}

export interface AlertRulesTable {
  id: string;
  tenant_id: string;
  /** Null: all of the tenant's functions together. */
  function_id: string | null;
  name: string;
  metric: AlertMetric;
  /** Fires while the metric's value over the window is above this. */
  threshold: number;
  window_ms: number;
  /** error_rate and p95_ms: no verdict on fewer invocations than this in the window. */
  min_invocations: ColumnType<number, number | undefined, number>;
  webhook: ColumnType<AlertWebhook, string, string>;
  paused: ColumnType<boolean, boolean | undefined, boolean>;
  state: ColumnType<AlertRuleState, AlertRuleState | undefined, AlertRuleState>;
  last_value: ColumnType<number | null, number | null | undefined, number | null>;
  last_evaluated_at: NullableTimestamp;
  state_since: NullableTimestamp;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface AlertEventsTable {
  id: string;
  tenant_id: string;
  rule_id: string;
  kind: "firing" | "resolved";
  value: number | null;
  at: CreatedAt;
  delivered: boolean;
  status_code: number | null;
  error: string | null;
}

export type AlertRuleRow = Selectable<AlertRulesTable>;
export type AlertEventRow = Selectable<AlertEventsTable>;

export interface Database {
  alert_rules: AlertRulesTable;
  alert_events: AlertEventsTable;
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  functions: FunctionsTable;
  versions: VersionsTable;
  artifacts: ArtifactsTable;
  aliases: AliasesTable;
  env_vars: EnvVarsTable;
  secrets: SecretsTable;
  deployments: DeploymentsTable;
  invocations: InvocationsTable;
  logs: LogsTable;
  audit_events: AuditEventsTable;
  tenant_quotas: TenantQuotasTable;
  rollouts: RolloutsTable;
  routes: RoutesTable;
  domains: DomainsTable;
  installation: InstallationTable;
  triggers: TriggersTable;
  events: EventsTable;
  event_deliveries: EventDeliveriesTable;
  trigger_slots: TriggerSlotsTable;
  function_metrics_minute: FunctionMetricsMinuteTable;
  function_metrics_hour: FunctionMetricsHourTable;
  function_metrics_watermark: FunctionMetricsWatermarkTable;
}

/**
 * A replication slot and publication the scheduler made for a database trigger on the tenant's
 * PostgreSQL (since 0010). Outlives its trigger row on purpose: see the migration.
 */
export interface TriggerSlotsTable {
  trigger_id: string;
  tenant_id: string;
  connection_secret: string;
  /** The connection string sealed by the scheduler (context: `triggerSlotContext`). */
  sealed_connection: Uint8Array;
  slot: string;
  publication: string;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}
export type TriggerSlotRow = Selectable<TriggerSlotsTable>;

/** A tenant's published domain event (since 0008); `id` is the publisher's or generated. */
export interface EventsTable {
  tenant_id: string;
  id: string;
  type: string;
  data: ColumnType<unknown, string | null, string | null>;
  published_at: ColumnType<Date, Date | undefined, Date>;
  published_by: string | null;
}

/** One event's fan-out to one event trigger, as the async invocation it queued. */
export interface EventDeliveriesTable {
  tenant_id: string;
  event_id: string;
  trigger_id: string;
  function_id: string;
  invocation_id: string;
}

/** The measures every metrics rollup row carries, as written (JSON columns as text). Since 0011. */
export interface FunctionMetricsColumns {
  invocations: number;
  errors: string;
  cold_starts: string;
  throttles: number;
  retries: number;
  dead_letters: number;
  duration_count: number;
  duration_sum: number;
  duration_min: number | null;
  duration_max: number | null;
  /** DDSketch protobuf bytes of the durations (ms); null when nothing ran. */
  duration_sketch: Uint8Array | null;
  queue_count: number;
  queue_sum: number;
  queue_min: number | null;
  queue_max: number | null;
  /** DDSketch protobuf bytes of async queue ages (ms). */
  queue_sketch: Uint8Array | null;
  /** CPU ms per invocation (since 0016), as durations. */
  cpu_count: number;
  cpu_sum: number;
  cpu_min: number | null;
  cpu_max: number | null;
  cpu_sketch: Uint8Array | null;
  /** Memory bytes per invocation (since 0016), as durations. */
  memory_count: number;
  memory_sum: number;
  memory_min: number | null;
  memory_max: number | null;
  memory_sketch: Uint8Array | null;
  /** The most invocations this row's writer had running at once (since 0016). */
  max_in_flight: number;
}

type MetricsMeasures = {
  [K in keyof FunctionMetricsColumns]: K extends "errors" | "cold_starts"
    ? Json<Record<string, number>>
    : FunctionMetricsColumns[K];
};

/** What one writer process saw finish in one minute (see migration 0011). */
export interface FunctionMetricsMinuteTable extends MetricsMeasures {
  tenant_id: string;
  function_id: string;
  /** 0 when the record named no version. */
  version: number;
  trigger: string;
  minute: Timestamp;
  writer_id: string;
  compacted: ColumnType<boolean, boolean | undefined, boolean>;
}

/** An hour of minute rows merged across writers, by compaction. */
export interface FunctionMetricsHourTable extends MetricsMeasures {
  tenant_id: string;
  function_id: string;
  version: number;
  trigger: string;
  hour: Timestamp;
}

export interface FunctionMetricsWatermarkTable {
  name: string;
  at: Timestamp;
}

/** Settings of the installation itself (see migration 0005), one row per key. */
export interface InstallationTable {
  key: string;
  value: string;
}

export type TenantRow = Selectable<TenantsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type FunctionRow = Selectable<FunctionsTable>;
export type VersionRow = Selectable<VersionsTable>;
export type AliasRow = Selectable<AliasesTable>;
export type DeploymentRow = Selectable<DeploymentsTable>;
export type InvocationRow = Selectable<InvocationsTable>;
export type NewInvocation = Insertable<InvocationsTable>;
export type LogRow = Selectable<LogsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type RolloutRow = Selectable<RolloutsTable>;
export type RouteRow = Selectable<RoutesTable>;
export type DomainRow = Selectable<DomainsTable>;
export type TriggerRow = Selectable<TriggersTable>;
export type EventRow = Selectable<EventsTable>;
