export {
  AlertRuleEvaluations,
  type AlertRulePatch,
  type AlertRulesRepo,
  type AlertRuleWithFunction,
  type EvaluatedRule,
  type NewAlertRule,
} from "./alert-rules-repo.ts";
export type { AliasesRepo } from "./aliases-repo.ts";
export type { ApiKeysRepo } from "./api-keys-repo.ts";
export type { ArtifactsRepo } from "./artifacts-repo.ts";
export type { AuditContext, AuditFilter, AuditRepo } from "./audit-repo.ts";
export { type PurgeAuditOptions, type PurgeAuditResult, purgeAudit } from "./audit-retention.ts";
export { decodeCursor, encodeCursor, type Page, type PageOptions } from "./cursor.ts";
export type { DeploymentsRepo } from "./deployments-repo.ts";
export type { DomainsRepo } from "./domains-repo.ts";
export type { EnvRepo, EnvVar } from "./env-repo.ts";
export {
  EVENTS_PURGE_BATCH,
  type PurgeEventsOptions,
  type PurgeEventsResult,
  purgeEvents,
} from "./events-maintenance.ts";
export type { EventDelivery, EventSubscriber, EventsRepo, NewEventDelivery } from "./events-repo.ts";
export type { FunctionsRepo, FunctionWithLive } from "./functions-repo.ts";
export {
  capInvocationLines,
  DEFAULT_LOG_CAP_BYTES,
  InvocationLogCap,
  LOG_TRUNCATED_MARK,
  truncationMarker,
} from "./invocation-log-cap.ts";
export type { InvocationFilter, InvocationsRepo } from "./invocations-repo.ts";
export { LOG_LEVELS, type LogLevel, levelOf, type StructuredLogLine, structureLogLine } from "./log-line.ts";
export { type PurgeLogsOptions, type PurgeLogsResult, purgeLogs } from "./log-retention.ts";
export { LOG_ORDERS, type LogOrder, type LogQuery, type LogsRepo } from "./logs-repo.ts";
export { addCounts, type MetricAggregate, mergeAggregate, newAggregate } from "./metric-aggregate.ts";
export { quantileOf, SKETCH_RELATIVE_ACCURACY, type SketchSummary, sketchSummary } from "./metric-sketch.ts";
export {
  type CompactMetricsOptions,
  type CompactMetricsResult,
  compactMetrics,
  type PurgeMetricsOptions,
  purgeMetrics,
} from "./metrics-maintenance.ts";
export {
  COLD_START_KINDS,
  type ColdStartMetricKind,
  type FunctionMetricsTotal,
  type MetricsRepo,
  type MetricsSeries,
  type MetricsSeriesQuery,
} from "./metrics-repo.ts";
export { MetricsRollup, type MetricsRollupOptions } from "./metrics-rollup.ts";
export { migrateToLatest } from "./migrate.ts";
export {
  type DatabaseHandle,
  type OpenDatabaseOptions,
  openDatabase,
  openSharedDatabase,
} from "./open-database.ts";
export { PlatformStore } from "./platform-store.ts";
export {
  type BatchOutcome,
  type InflightBatch,
  type QueueSourceState,
  type QueueTriggerRow,
  QueueTriggers,
} from "./queue-triggers.ts";
export { notQueuedInvocation, type QueuedTarget, queuedInvocation } from "./queued-invocation.ts";
export { QUOTA_NAMES, type QuotaLimits, type QuotaName, type QuotasRepo } from "./quotas-repo.ts";
export type { LogOwner, RejectedRecord } from "./record-writer.ts";
export {
  invocationLogRows,
  logRow,
  RECORD_PHASES,
  type RecordPhase,
  recordSeq,
  writeRecords,
} from "./record-writer.ts";
export { Recorder, type RecorderOptions } from "./recorder.ts";
export type { NewTriggerSlot, ReplicationSlots, SourceReport } from "./replication-slots.ts";
export type { NewRollout, RolloutPatch, RolloutsRepo } from "./rollouts-repo.ts";
export type { NewRoute, RoutesRepo } from "./routes-repo.ts";
export type { AlertDueTrigger, DueTrigger, FiredSlot, ScheduledTriggers } from "./scheduled-triggers.ts";
export * from "./schema.ts";
export type { SealedSecret, SecretMeta, SecretsRepo } from "./secrets-repo.ts";
export { openServiceDatabase, type ServiceDatabase, type ServiceDatabaseConfig } from "./service-database.ts";
export { parseVersionSelector, targetVersion, type VersionLookups } from "./target-version.ts";
export type { TenantStore } from "./tenant-store.ts";
export type { NewTrigger, TriggerPatch, TriggersRepo } from "./triggers-repo.ts";
export type { StoredBytes, UsageRepo } from "./usage-repo.ts";
export {
  edgeScript,
  openTenantSecret,
  type VersionEnvironment,
  versionEnvironment,
} from "./version-environment.ts";
export type { NewVersion, VersionsRepo } from "./versions-repo.ts";
