import type { IncomingHttpHeaders } from "node:http";
import { headers as H } from "@kumo/bus";
import type { FunctionConfig, InvocationRequest, TriggerKind } from "@kumo/core";
import { KumoError, newInvocationId } from "@kumo/core";

/** Headers that describe one hop, not the request; never forwarded to a function. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "proxy-authorization",
  "proxy-authenticate",
  "proxy-connection",
  "content-length",
]);

export interface InvocationRequestInput {
  trigger: TriggerKind;
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  config: FunctionConfig;
  /** Drop the Authorization header: it carried a Kumo key, which the function must never see. */
  stripAuthorization: boolean;
  /**
   * The trace context the invocation continues (the gateway's request span, when tracing is on);
   * it replaces the caller's traceparent. Absent: the caller's, if any, passes through.
   */
  traceparent?: string | undefined;
}

export function toInvocationRequest(input: InvocationRequestInput): InvocationRequest {
  const body = Buffer.isBuffer(input.body) ? input.body : null;
  if (body && body.byteLength > input.config.maxBodyBytes) {
    throw new KumoError(
      "FN_010",
      `request body of ${body.byteLength} bytes exceeds this function's limit of ${input.config.maxBodyBytes} bytes`,
    );
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (name === "authorization" && input.stripAuthorization) continue;
    if (name.startsWith("kumo-") && name !== H.idempotencyKey) continue;
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  const invocationId = newInvocationId();
  const deadline = Date.now() + input.config.timeoutMs;
  headers[H.invocationId] = invocationId;
  headers[H.deadlineMs] = String(deadline);
  if (input.traceparent) headers[H.traceparent] = input.traceparent;
  const traceparent = headers[H.traceparent];
  return {
    invocationId,
    trigger: input.trigger,
    method: input.method,
    url: `${input.path}${input.query ? `?${input.query}` : ""}`,
    headers,
    body,
    deadline,
    ...(traceparent ? { traceparent } : {}),
  };
}
