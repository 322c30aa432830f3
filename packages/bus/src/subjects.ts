/**
 * Every NATS subject, stream and header name Kumo uses is built here; call sites never type them.
 * Tokens are ids from `newId` (alphanumeric and '_'), which are valid subject tokens.
 */
export const subjects = {
  /** Sync request-reply invocation of one container function version (queue group per version). */
  invoke: (versionId: string) => `kumo.invoke.${versionId}`,
  /** Async invocations (JetStream work queue), one subject per version. */
  asyncInvoke: (versionId: string) => `kumo.async.${versionId}`,
  asyncInvokeAll: "kumo.async.>",
  /** Live function logs, per tenant and function, for SSE tails. */
  logs: (tenantId: string, functionId: string) => `kumo.logs.${tenantId}.${functionId}`,
  /** Invocation records and their logs on their way to the recorder. */
  records: "kumo.records",
  /** Tenant events that event triggers subscribe to. */
  event: (tenantId: string, type: string) => `kumo.events.${tenantId}.${encodeToken(type)}`,
  /** Control-plane change notifications (alias moved, env changed) so caches drop stale entries. */
  changes: (tenantId: string) => `kumo.changes.${tenantId}`,
  changesAll: "kumo.changes.>",
} as const;

export const streams = {
  invocations: "KUMO_INVOCATIONS",
  deadLetters: "KUMO_DLQ",
} as const;

export const headers = {
  invocationId: "kumo-invocation-id",
  invocationType: "kumo-invocation-type",
  deadlineMs: "kumo-deadline-ms",
  idempotencyKey: "kumo-idempotency-key",
  eventType: "kumo-event-type",
  error: "kumo-error",
  version: "kumo-version",
  coldStart: "kumo-cold-start",
  /** Path parameters of the tenant route that matched, as JSON. */
  routeParams: "kumo-route-params",
  traceparent: "traceparent",
} as const;

/** Subject tokens cannot hold '.', '*', '>' or whitespace; event types often hold dots. */
function encodeToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, (c) => `~${c.charCodeAt(0).toString(16)}`);
}
