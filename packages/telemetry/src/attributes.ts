/**
 * Span attribute names. HTTP ones are stable OpenTelemetry semantic conventions; FaaS and messaging
 * ones are still "incubating" there, so (as the OpenTelemetry docs advise for libraries) they are
 * copied here rather than imported from the incubating entry point, which may rename them. `kumo.*`
 * are Kumo's own where no convention exists.
 */
export const ATTR = {
  httpRoute: "http.route",
  httpMethod: "http.request.method",
  httpStatus: "http.response.status_code",
  urlPath: "url.path",
  faasTrigger: "faas.trigger",
  faasInvocationId: "faas.invocation_id",
  faasColdstart: "faas.coldstart",
  faasName: "faas.name",
  faasVersion: "faas.version",
  faasInvokedName: "faas.invoked_name",
  faasInvokedProvider: "faas.invoked_provider",
  cloudResourceId: "cloud.resource_id",
  messagingSystem: "messaging.system",
  messagingOperation: "messaging.operation.type",
  messagingDestination: "messaging.destination.name",
  messagingMessageId: "messaging.message.id",
  messagingDeliveryCount: "messaging.message.delivery_count",
  errorType: "error.type",
  tenantId: "kumo.tenant.id",
  functionId: "kumo.function.id",
  versionId: "kumo.version.id",
  coldStartKind: "kumo.cold_start.kind",
  queueMs: "kumo.queue_ms",
  attempt: "kumo.attempt",
  triggerId: "kumo.trigger.id",
  triggerKind: "kumo.trigger.kind",
  nodeId: "kumo.node.id",
  /** How a sync container invocation reached its node: "nats", or the node's direct "link". */
  transport: "kumo.transport",
  runtime: "kumo.runtime",
  eventId: "kumo.event.id",
  eventType: "kumo.event.type",
  deploymentId: "kumo.deployment.id",
} as const;

/** OpenTelemetry's faas.trigger values for Kumo's trigger kinds (@kumo/core TRIGGER_KINDS). */
export function faasTriggerOf(kind: string): "http" | "pubsub" | "timer" | "datasource" | "other" {
  switch (kind) {
    case "http":
    case "api":
      return "http";
    case "cron":
      return "timer";
    case "queue":
    case "event":
      return "pubsub";
    case "database":
      return "datasource";
    default:
      return "other";
  }
}

/** The attributes every span about one invocation carries. */
export function invocationAttributes(target: {
  tenantId: string;
  functionId: string;
  versionId: string;
  version: number;
}): Record<string, string | number> {
  return {
    [ATTR.tenantId]: target.tenantId,
    [ATTR.functionId]: target.functionId,
    [ATTR.versionId]: target.versionId,
    [ATTR.faasVersion]: String(target.version),
    [ATTR.cloudResourceId]: `kumo:${target.tenantId}:function:${target.functionId}:${target.version}`,
  };
}
