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
  /** The trigger that started it (cron, ...), null for HTTP and API calls. */
  triggerId: string | null;
  status: "queued" | "running" | "succeeded" | "failed";
  errorCode: string | null;
  durationMs: number | null;
  coldStart: boolean | string | null;
  startedAt: string | null;
  errorMessage?: string | null;
  /** The stored response (one invocation by id, async runs): text as text, anything else base64. */
  result?: InvocationResponse | null;
  logs?: InvocationLog[];
}

export interface InvocationResponse {
  statusCode: number | null;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
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

export const ROLLOUT_STATUSES = ["running", "completed", "rolled_back", "cancelled"] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];

/** A gradual rollout: the weight of version `to` on `alias` goes up step by step. */
export interface Rollout {
  id: string;
  alias: string;
  from: number;
  to: number;
  /** Weights of the new version, in percent, ending with 100. */
  steps: number[];
  stepIndex: number;
  /** The weight now applied (`steps[stepIndex]`). */
  weight: number | null;
  intervalMs: number;
  /** A fraction in [0, 1]. */
  maxErrorRate: number;
  minRequests: number;
  status: RolloutStatus;
  stepStartedAt: string;
  nextStepAt: string | null;
  lastErrorRate: number | null;
  lastRequests: number | null;
  reason: string | null;
  createdAt: string;
  createdBy: string | null;
  updatedAt: string;
  finishedAt: string | null;
}

export const ROUTE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "ANY"] as const;
export type RouteMethod = (typeof ROUTE_METHODS)[number];

/** A tenant route; a null host is the tenant's own (`<tenant>.<apps domain>` and `/r/<tenant>/`). */
export interface Route {
  id: string;
  method: RouteMethod;
  path: string;
  host: string | null;
  /** `name`, `name@alias` or `name@vN`. */
  function: string;
  createdAt: string;
  createdBy: string | null;
}

export type DomainStatus = "pending" | "verified";

/** A custom domain claimed by the tenant, with the TXT record that proves control of it. */
export interface Domain {
  hostname: string;
  status: DomainStatus;
  verification: { type: "TXT"; name: string; value: string };
  createdAt: string;
  verifiedAt: string | null;
  verifiedBy: string | null;
}

/** A function's trigger with its state (GET /v1/functions/:name/triggers). */
export interface Trigger {
  id: string;
  functionName: string;
  type: "cron" | "event" | "queue" | "database";
  target: string;
  /** Queue and database triggers: what they listen to (queue name, batch size, ...). */
  settings?: Record<string, unknown> | null;
  /** Cron triggers; null for event triggers. */
  schedule: string | null;
  /** Event triggers: the type or pattern they receive; null for cron triggers. */
  eventType: string | null;
  timezone: string;
  overlap: "skip" | "allow" | "queue";
  catchUp: "skip" | "once" | "all";
  catchUpWindowMs: number;
  paused: boolean;
  source: "config" | "api";
  state: {
    nextFireAt: string | null;
    lastScheduledAt: string | null;
    lastFiredAt: string | null;
    lastInvocationId: string | null;
    lastStatus: string | null;
    consecutiveFailures: number;
    lastError: string | null;
  };
  createdAt: string;
  updatedAt: string;
}

/** POST /v1/functions/:name/triggers/:id/fire. */
export interface TriggerFired {
  invocationId: string;
  status: "queued";
  triggerId: string;
  scheduledAt: string;
  version: number;
}

/** GET /v1/functions/:name/triggers/:id/next. */
export interface TriggerNext {
  triggerId: string;
  schedule: string;
  timezone: string;
  paused: boolean;
  items: { at: string; local: string }[];
}

/** One delivery of an event to an event trigger. */
export interface EventDelivery {
  triggerId: string;
  function: string | null;
  invocationId: string;
  status?: string;
  attempts?: number;
  errorCode?: string | null;
}

/** POST /v1/events. */
export interface EventPublished {
  eventId: string;
  type: string;
  publishedAt: string;
  duplicate: boolean;
  deliveries: EventDelivery[];
  skipped: { triggerId: string; function: string; reason: string }[];
}

/** GET /v1/events. */
export interface PublishedEvent {
  id: string;
  type: string;
  data: unknown;
  publishedAt: string;
  deliveries: EventDelivery[];
}
