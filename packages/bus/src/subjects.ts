/**
 * Every NATS subject, stream and header name Kumo uses is built here; call sites never type them.
 * Tokens are ids from `newId` (alphanumeric and '_'), which are valid subject tokens.
 */
export const subjects = {
  /** Sync request-reply invocation of one container function version (queue group per version). */
  invoke: (versionId: string, namespace = "") => `${planeRoot(namespace)}.invoke.${versionId}`,
  invokeAll: (namespace = "") => `${planeRoot(namespace)}.invoke.*`,
  /** Sync invocations handed to one node (the holder of a version's concurrency share). */
  invokeOnNode: (nodeId: string, namespace = "") =>
    `${planeRoot(namespace)}.node-invoke.${encodeToken(nodeId)}`,
  /**
   * Cancels of sync invocations sent before the gateway knows which node runs them (the node's own
   * cancel subject comes with its first heartbeat or the response head). Every node listens; the one
   * running the invocation (payload: its id) stops it. Rare, so a broadcast costs nothing per call.
   */
  invokeCancel: (namespace = "") => `${planeRoot(namespace)}.invoke-cancel`,
  /** Queue group every autoscaler node joins, so nodes share sync and async work without discovery. */
  invokeQueue: "kumo-autoscalers",
  /** Async invocations (JetStream work queue), one subject per version. */
  asyncInvoke: (versionId: string, namespace = "") => `${planeRoot(namespace)}.async.${versionId}`,
  asyncInvokeAll: (namespace = "") => `${planeRoot(namespace)}.async.>`,
  /** Dead letters of async invocations, per tenant and function (so listings filter by subject). */
  deadLetter: (tenantId: string, functionId: string, namespace = "") =>
    `${planeRoot(namespace)}.dlq.${tenantId}.${functionId}`,
  deadLetterAll: (namespace = "") => `${planeRoot(namespace)}.dlq.>`,
  /** Destination webhook deliveries waiting to be made (JetStream work queue). */
  destinations: (namespace = "") => `${planeRoot(namespace)}.destinations`,
  /** Autoscaler node presence (heartbeats), so nodes can split cluster-wide minInstances. */
  nodes: (namespace = "") => `${planeRoot(namespace)}.nodes`,
  /** Live function logs, per tenant and function, for SSE tails. */
  logs: (tenantId: string, functionId: string, namespace = "") =>
    `${planeRoot(namespace)}.logs.${tenantId}.${functionId}`,
  /** Tenant events that event triggers subscribe to. */
  event: (tenantId: string, type: string, namespace = "") =>
    `${planeRoot(namespace)}.events.${tenantId}.${encodeToken(type)}`,
  /**
   * Tenant queues (queue triggers): one subject per tenant and queue, so a tenant's publishes and
   * consumers can only ever name its own queues.
   */
  queue: (tenantId: string, queue: string, namespace = "") =>
    `${planeRoot(namespace)}.queue.${tenantId}.${encodeToken(queue)}`,
  queueTenant: (tenantId: string, namespace = "") => `${planeRoot(namespace)}.queue.${tenantId}.*`,
  queueAll: (namespace = "") => `${planeRoot(namespace)}.queue.>`,
  /** Queue messages a trigger gave up on (past its maxDeliveries), per tenant and queue. */
  queueDeadLetter: (tenantId: string, queue: string, namespace = "") =>
    `${planeRoot(namespace)}.queue-dlq.${tenantId}.${encodeToken(queue)}`,
  queueDeadLetterAll: (namespace = "") => `${planeRoot(namespace)}.queue-dlq.>`,
  /** Control-plane change notifications (alias moved, env changed) so caches drop stale entries. */
  changes: (tenantId: string, namespace = "") => `${planeRoot(namespace)}.changes.${tenantId}`,
  changesAll: (namespace = "") => `${planeRoot(namespace)}.changes.>`,
  /** Gateways' rate-limit counts, gossiped so every gateway enforces the installation-wide limit. */
  rateLimits: (namespace = "") => `${planeRoot(namespace)}.ratelimits`,
} as const;

/**
 * JetStream names. `namespace` separates installations that share one NATS server (and parallel
 * test files): it prefixes every subject and suffixes stream and bucket names (consumers live in
 * their stream). Services use the installation's identity (`PlatformStore.installationId`) unless
 * KUMO_BUS_NAMESPACE names one; "" (no namespace) is only what tests of a single piece pass.
 */
export const streams = {
  invocations: (namespace = "") => `KUMO_INVOCATIONS${streamSuffix(namespace)}`,
  deadLetters: (namespace = "") => `KUMO_DLQ${streamSuffix(namespace)}`,
  /** Destination deliveries: queued before the invocation's message is acked, acked once made. */
  destinations: (namespace = "") => `KUMO_DESTINATIONS${streamSuffix(namespace)}`,
  /** The durable consumer of the destinations stream all autoscaler nodes share. */
  destinationConsumer: "kumo-destinations",
  /** The durable work-queue consumer all autoscaler nodes pull from. */
  invocationConsumer: "kumo-autoscalers",
  /** Tenant queues: limits retention (kept for days), so a trigger created later still reads them. */
  queues: (namespace = "") => `KUMO_QUEUES${streamSuffix(namespace)}`,
  /** Queue messages dead-lettered by their trigger. */
  queueDeadLetters: (namespace = "") => `KUMO_QUEUE_DLQ${streamSuffix(namespace)}`,
  /** The durable consumer of one queue trigger (each trigger reads every message of its queue). */
  queueConsumer: (triggerId: string) => `queue_${encodeToken(triggerId)}`,
  /** KV bucket: idempotency key -> invocation id, entries expire after the dedupe window. */
  idempotency: (namespace = "") => `KUMO_IDEMPOTENCY${streamSuffix(namespace)}`,
  /** Object store for async request bodies larger than one NATS message. */
  payloads: (namespace = "") => `KUMO_PAYLOADS${streamSuffix(namespace)}`,
  /** KV bucket of the schedulers' leader lease (entries expire unless the leader renews them). */
  schedulerLease: (namespace = "") => `KUMO_SCHEDULER${streamSuffix(namespace)}`,
  /** The key in that bucket the leading scheduler holds. */
  schedulerLeaderKey: "leader",
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
  /** Shim → autoscaler: what the invocation used (`cpu=<ms>;rss=<bytes>`); never passed on. */
  usage: "kumo-usage",
  /** 202 answers to a repeated idempotency key carry this, with the first invocation's id. */
  idempotentReplay: "kumo-idempotent-replay",
  /** Path parameters of the tenant route that matched, as JSON. */
  routeParams: "kumo-route-params",
  /** The verified claims of the caller's JWT, as JSON (functions with `httpAuth: { jwt }`). */
  authClaims: "kumo-auth-claims",
  /** Step runs: an end user's JWT, verified with the function's `httpAuth.jwt`; its claims become `context.auth`. */
  authToken: "kumo-auth-token",
  traceparent: "traceparent",
  /** On invocation responses while tracing is on: the trace to look the invocation up by. */
  traceId: "kumo-trace-id",
  /** RabbitMQ: how many times a message was delivered to a queue trigger (classic queues). */
  queueDeliveries: "kumo-deliveries",
} as const;

function planeRoot(namespace: string): string {
  return namespace ? `kumo.${namespace}` : "kumo";
}

function streamSuffix(namespace: string): string {
  return namespace ? `_${namespace.toUpperCase()}` : "";
}

/** The queue name a subject of `subjects.queue` carries (its last token). */
export function queueNameOfSubject(subject: string): string {
  const token = subject.slice(subject.lastIndexOf(".") + 1);
  return token.replace(/~([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** Subject tokens cannot hold '.', '*', '>' or whitespace; event types often hold dots. */
function encodeToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, (c) => `~${c.charCodeAt(0).toString(16)}`);
}
