import type {
  AliasRow,
  ApiKeyRow,
  DeploymentRow,
  DomainRow,
  EventDelivery,
  EventRow,
  FunctionRow,
  InvocationRow,
  LogRow,
  RolloutRow,
  RouteRow,
  SecretMeta,
  TenantRow,
  TriggerRow,
  VersionRow,
} from "@kumo/db";

/** Rows to API JSON. Secret values and key hashes have no presenter: they are never returned. */

export const presentTenant = (t: TenantRow) => ({
  id: t.id,
  name: t.name,
  createdAt: t.created_at.toISOString(),
  /** Days its logs are kept; null: the installation's default (KUMO_LOG_RETENTION). */
  logRetentionDays: t.log_retention_days,
});

export const presentKey = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  createdAt: k.created_at.toISOString(),
  createdBy: k.created_by,
  lastUsedAt: k.last_used_at?.toISOString() ?? null,
  revokedAt: k.revoked_at?.toISOString() ?? null,
  functions: k.functions,
  expiresAt: k.expires_at?.toISOString() ?? null,
});

/** `hostUrl`: the function's own host (`<function>.<tenant>.<apps domain>`), when function hosts are on. */
export const presentFunction = (
  f: FunctionRow,
  url: string,
  liveVersion: number | null,
  hostUrl?: string | undefined,
) => ({
  id: f.id,
  name: f.name,
  runtime: f.runtime,
  config: f.config,
  createdAt: f.created_at.toISOString(),
  updatedAt: f.updated_at.toISOString(),
  url,
  ...(hostUrl === undefined ? {} : { hostUrl }),
  liveVersion,
});

/**
 * The URL of a function's own host: the public URL's scheme and port, with the host
 * `<function>.<tenant>.<apps domain>` (served by the gateway when KUMO_FUNCTION_HOSTS is on).
 */
export function functionHostUrl(
  publicUrl: string,
  appsDomain: string,
  tenantName: string,
  fnName: string,
): string {
  const base = new URL(publicUrl);
  return `${base.protocol}//${fnName}.${tenantName}.${appsDomain}${base.port ? `:${base.port}` : ""}/`;
}

export const presentVersion = (v: VersionRow) => ({
  id: v.id,
  version: v.version,
  runtime: v.runtime,
  sourceDigest: v.source_digest,
  artifact: v.artifact,
  config: v.config,
  deploymentId: v.deployment_id,
  createdAt: v.created_at.toISOString(),
  createdBy: v.created_by,
  changes: v.changes,
  codeArtifact: v.code_artifact ?? null,
});

export const presentAlias = (a: AliasRow) => ({
  name: a.name,
  routing: a.routing,
  updatedAt: a.updated_at.toISOString(),
  updatedBy: a.updated_by,
});

export const presentDeployment = (d: DeploymentRow, withLog = false) => ({
  id: d.id,
  status: d.status,
  sourceKind: d.source_kind,
  sourceDigest: d.source_digest,
  version: d.version,
  error: d.error_code ? { code: d.error_code, message: d.error_message ?? "" } : null,
  createdAt: d.created_at.toISOString(),
  finishedAt: d.finished_at?.toISOString() ?? null,
  createdBy: d.created_by,
  ...(withLog ? { log: d.log } : {}),
});

export const presentInvocation = (i: InvocationRow, functionName: string) => ({
  id: i.id,
  functionName,
  version: i.version,
  trigger: i.trigger,
  triggerId: i.trigger_id,
  status: i.status,
  statusCode: i.status_code,
  errorCode: i.error_code,
  errorMessage: i.error_message,
  durationMs: i.duration_ms,
  coldStart: i.cold_start,
  queueMs: i.queue_ms,
  cpuMs: i.cpu_ms,
  memoryBytes: i.memory_bytes,
  requestBytes: i.request_bytes,
  responseBytes: i.response_bytes,
  traceId: i.trace_id,
  startedAt: i.started_at.toISOString(),
  finishedAt: i.finished_at?.toISOString() ?? null,
  attempts: i.attempts,
  deadLettered: i.dead_letter_seq !== null,
  idempotencyKey: i.idempotency_key,
});

/** An async invocation's stored response: text as text, anything else base64. */
export const presentResult = (i: InvocationRow) => {
  if (i.result === null) return null;
  const headers = i.result_headers ?? [];
  const type = headers.find(([name]) => name === "content-type")?.[1] ?? "";
  const body = Buffer.from(i.result);
  const text = /^(text\/|application\/(json|xml|javascript)|[^;]*\+json)/.test(type);
  return {
    statusCode: i.status_code,
    headers: Object.fromEntries(headers),
    body: text ? body.toString("utf8") : body.toString("base64"),
    isBase64Encoded: !text,
  };
};

export const presentLog = (l: LogRow) => ({
  ts: l.ts.toISOString(),
  invocationId: l.invocation_id,
  version: l.version,
  level: l.level,
  message: l.message,
  /** A JSON line's fields; null for plain text. */
  fields: l.fields,
});

export const presentSecret = (s: SecretMeta) => ({
  name: s.name,
  version: s.version,
  createdAt: s.createdAt.toISOString(),
  updatedAt: s.updatedAt.toISOString(),
});

export const presentRollout = (r: RolloutRow) => ({
  id: r.id,
  alias: r.alias,
  from: r.from_version,
  to: r.to_version,
  steps: r.steps,
  stepIndex: r.step_index,
  weight: r.steps[r.step_index] ?? null,
  intervalMs: r.interval_ms,
  maxErrorRate: r.max_error_rate,
  minRequests: r.min_requests,
  status: r.status,
  stepStartedAt: r.step_started_at.toISOString(),
  nextStepAt: r.status === "running" ? r.next_step_at.toISOString() : null,
  lastErrorRate: r.last_error_rate,
  lastRequests: r.last_total,
  reason: r.reason,
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
  updatedAt: r.updated_at.toISOString(),
  finishedAt: r.finished_at?.toISOString() ?? null,
});

export const presentRoute = (r: RouteRow) => ({
  id: r.id,
  method: r.method,
  path: r.path,
  host: r.host,
  function: r.target,
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
});

export const presentDomain = (d: DomainRow, verification: { name: string; value: string }) => ({
  hostname: d.hostname,
  status: d.status,
  verification: { type: "TXT" as const, ...verification },
  createdAt: d.created_at.toISOString(),
  verifiedAt: d.verified_at?.toISOString() ?? null,
  verifiedBy: d.verified_by,
});

/** A trigger with its state: last fire and its outcome, next fire, failures in a row, last error. */
export const presentTrigger = (t: TriggerRow, functionName: string) => ({
  id: t.id,
  functionName,
  type: t.kind,
  target: t.target,
  schedule: t.schedule,
  eventType: t.event_pattern,
  timezone: t.timezone,
  overlap: t.overlap,
  catchUp: t.catch_up,
  catchUpWindowMs: t.catch_up_window_ms,
  paused: t.paused,
  source: t.source,
  jitterMs: t.jitter_ms,
  /** Queue and database triggers: what they listen to (secret names, never values). */
  settings: t.settings,
  alert: t.alert ? { ...t.alert, url: redactUrl(t.alert.url) } : null,
  state: {
    nextFireAt: t.paused ? null : (t.next_fire_at?.toISOString() ?? null),
    lastScheduledAt: t.last_scheduled_at?.toISOString() ?? null,
    lastFiredAt: t.last_fired_at?.toISOString() ?? null,
    lastInvocationId: t.last_invocation_id,
    lastStatus: t.last_status,
    consecutiveFailures: t.consecutive_failures,
    lastError: t.last_error,
    queuedSlot: t.queued_slot?.toISOString() ?? null,
    /** What the trigger's consumer reports about its source: queue lag, replication slot, errors. */
    source: t.source_state,
    alert: { status: t.alert_status, lastDelivery: t.alert_delivery },
  },
  createdAt: t.created_at.toISOString(),
  updatedAt: t.updated_at.toISOString(),
});

/** A published event and its deliveries; a delivery not recorded yet is "queued". */
export const presentEvent = (e: EventRow, deliveries: readonly EventDelivery[]) => ({
  id: e.id,
  type: e.type,
  data: e.data ?? null,
  publishedAt: e.published_at.toISOString(),
  deliveries: deliveries.map((d) => ({
    triggerId: d.trigger_id,
    function: d.function_name,
    invocationId: d.invocation_id,
    status: d.status ?? "queued",
    attempts: d.attempts ?? 0,
    errorCode: d.error_code,
  })),
});

/**
 * An alert webhook's URL as the API shows it: scheme, host and port only. Webhook URLs often carry
 * their credential in the path (Slack's do), and trigger listings are readable by viewers.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}/…`;
  } catch {
    return "…";
  }
}
