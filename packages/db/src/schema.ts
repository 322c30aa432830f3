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
}

export interface LogsTable {
  id: Generated<string>;
  tenant_id: string;
  function_id: string;
  invocation_id: string | null;
  ts: Timestamp;
  level: string;
  message: string;
}

export interface AuditEventsTable {
  id: Generated<string>;
  tenant_id: string;
  actor: string | null;
  action: string;
  target: string;
  details: Json<unknown>;
  at: CreatedAt;
}

export interface Database {
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
