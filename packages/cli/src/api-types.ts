/**
 * The shapes the /v1 API answers with, as far as the CLI reads them. The gateway owns the
 * contract; these only describe it from the client's side.
 */

export type Role = "admin" | "developer" | "invoker" | "viewer" | "platform-admin";
export const KEY_ROLES = ["admin", "developer", "invoker", "viewer"] as const;

export interface WhoAmI {
  tenant: { id: string; name: string } | null;
  role: Role;
  keyId: string;
}

export interface Tenant {
  id: string;
  name: string;
  createdAt: string;
}

export interface ApiKey {
  id: string;
  name: string | null;
  role: Role;
  createdAt: string;
  lastUsedAt?: string | null;
  revokedAt?: string | null;
}

export interface CreatedApiKey extends ApiKey {
  /** The secret itself, shown once. */
  key: string;
}

export interface CreatedTenant {
  tenant: Tenant;
  apiKey: CreatedApiKey;
}

export interface FunctionInfo {
  id: string;
  name: string;
  runtime: string;
  config: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  url: string;
  liveVersion: number | null;
}

export type DeploymentStatus = "queued" | "building" | "succeeded" | "failed";

export interface Deployment {
  id: string;
  status: DeploymentStatus;
  version: number | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  log?: string;
}

export interface Version {
  id: string;
  version: number;
  sourceDigest: string;
  runtime: string;
  createdAt: string;
  createdBy: string | null;
}

export interface Alias {
  name: string;
  routing: { version: number; weight: number }[];
  updatedAt: string;
}

export interface Rollback {
  alias: string;
  from: number;
  to: number;
}

export interface InvocationLog {
  ts: string | number;
  level: string;
  message: string;
}

export interface Invocation {
  id: string;
  functionName: string;
  version: number | null;
  trigger: string;
  status: "queued" | "running" | "succeeded" | "failed";
  errorCode: string | null;
  durationMs: number | null;
  coldStart: boolean | string | null;
  startedAt: string | null;
  logs?: InvocationLog[];
}

export interface LogLine {
  ts: string | number;
  invocationId: string | null;
  level: string;
  message: string;
}

export interface EnvVar {
  key: string;
  value: string;
}

export interface Secret {
  name: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}
