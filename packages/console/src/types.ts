/** The API's JSON shapes the console reads (see /docs for all fields). */

export type Role = "admin" | "developer" | "invoker" | "viewer" | "platform-admin";

export interface WhoAmI {
  tenant: { id: string; name: string } | null;
  role: Role;
  keyId: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface FunctionInfo {
  id: string;
  name: string;
  runtime: string;
  config: Record<string, unknown>;
  url: string;
  liveVersion: number | null;
  updatedAt: string;
}

export interface Distribution {
  count: number;
  avg: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface Metrics {
  invocations: number;
  errors: Record<string, number>;
  errorRate: number;
  durationMs: Distribution;
  coldStarts: Record<string, number>;
  throttles: number;
  /** avg: Little's law over the bucket; max: peak in flight (an upper bound with several gateways or nodes). */
  concurrency: { avg: number; max: number };
  cpuMs: Distribution;
  memoryBytes: Distribution;
}

export interface FunctionMetrics {
  from: string;
  to: string;
  step: number;
  summary: Metrics;
  series: (Metrics & { at: string })[];
}

export interface TenantMetrics {
  topByInvocations: (Metrics & { name: string })[];
  topByErrors: (Metrics & { name: string })[];
  topByP95: (Metrics & { name: string })[];
}

export interface Version {
  version: number;
  runtime: string;
  sourceDigest: string;
  createdAt: string;
  createdBy: string;
  changes: {
    previousVersion: number | null;
    sourceChanged: boolean;
    runtimeChanged: boolean;
    configKeys: string[];
  } | null;
}

export interface Alias {
  name: string;
  routing: { version: number; weight: number }[];
}

export interface Deployment {
  id: string;
  status: "queued" | "building" | "succeeded" | "failed";
  version: number | null;
  error: { code: string; message: string } | null;
  log?: string;
}

export interface Invocation {
  id: string;
  version: number;
  trigger: string;
  status: string;
  statusCode: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  durationMs: number | null;
  coldStart: string | null;
  traceId: string | null;
  startedAt: string;
  finishedAt: string | null;
  requestBytes: number | null;
  responseBytes: number | null;
  attempts: number;
}

export interface LogLine {
  ts: string;
  level: string;
  message: string;
  invocationId?: string | null;
  version?: number | null;
}

export interface InvocationDetail extends Invocation {
  functionName: string;
  logs: LogLine[];
  result: { statusCode: number; headers: Record<string, string>; body: string } | null;
}

export interface Trigger {
  id: string;
  type: string;
  schedule: string | null;
  eventType: string | null;
  timezone: string | null;
  paused: boolean;
  source: string;
  state: { nextFireAt: string | null; lastFiredAt: string | null; lastStatus: string | null };
}

export interface Secret {
  name: string;
  version: number;
  updatedAt: string;
}

export interface SourceFiles {
  version: number;
  source: "files" | "bundle";
  files: Record<string, string>;
}

export interface DraftRun {
  invocationId: string;
  status: number;
  headers: [string, string][];
  body: string;
  bodyEncoding: "utf8" | "base64";
  truncated: boolean;
  logs: LogLine[];
  durationMs: number;
  coldStart: string;
  error: { code: string; message: string } | null;
}

export interface Rollout {
  id: string;
  alias: string;
  from: number;
  to: number;
  steps: number[];
  stepIndex: number;
  weight: number | null;
  intervalMs: number;
  maxErrorRate: number;
  minRequests: number;
  status: "running" | "completed" | "rolled_back" | "cancelled";
  stepStartedAt: string;
  nextStepAt: string | null;
  lastErrorRate: number | null;
  lastRequests: number | null;
  reason: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface DeploymentListItem extends Deployment {
  sourceKind: string;
  createdAt: string;
  finishedAt: string | null;
  createdBy: string;
}

export interface TriggerDetail extends Trigger {
  target: string | null;
  overlap: string | null;
  jitterMs: number | null;
  settings: Record<string, unknown> | null;
  alert: { url: string; after?: number } | null;
  state: Trigger["state"] & {
    lastScheduledAt: string | null;
    lastInvocationId: string | null;
    consecutiveFailures: number;
    lastError: string | null;
    queuedSlot: string | null;
    source: Record<string, unknown> | null;
    alert: { status: string | null; lastDelivery: unknown };
  };
}

export interface NextRuns {
  items: { at: string; local: string }[];
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface Tenant {
  id: string;
  name: string;
  createdAt: string;
  logRetentionDays: number | null;
}

export interface AlertRule {
  id: string;
  name: string;
  function: string | null;
  metric: string;
  threshold: number;
  windowMs: number;
  minInvocations: number;
  webhook: { url: string; format: string; secret?: string };
  paused: boolean;
  state: {
    status: "ok" | "firing" | "paused";
    since: string | null;
    value: number | null;
    evaluatedAt: string | null;
    error: string | null;
  };
  history: {
    kind: string;
    value: number | null;
    at: string;
    delivered: boolean;
    statusCode: number | null;
    error: string | null;
  }[];
}

export interface FunctionFigures extends Metrics {
  name: string;
  series: { invocations: number[]; failed: number[] };
}
