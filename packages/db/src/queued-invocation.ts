import type { InvocationRequest } from "@kumo/core";
import { recordSeq } from "./record-writer.ts";
import type { NewInvocation } from "./schema.ts";

/** The version an async invocation runs, as its record names it. */
export interface QueuedTarget {
  tenantId: string;
  functionId: string;
  versionId: string;
  version: number;
}

/**
 * The "queued" record of an async invocation, written by whoever queued it (the gateway, the
 * scheduler); the node that runs it upserts the rest. `triggerId` names the trigger that fired it.
 */
export function queuedInvocation(
  target: QueuedTarget,
  request: InvocationRequest,
  queuedAt: number,
  extra: { idempotencyKey?: string | undefined; triggerId?: string | undefined } = {},
): NewInvocation {
  return {
    id: request.invocationId,
    tenant_id: target.tenantId,
    function_id: target.functionId,
    version_id: target.versionId,
    version: target.version,
    trigger: request.trigger,
    request_bytes: request.body?.byteLength ?? 0,
    trace_id: request.traceparent?.split("-")[1] ?? null,
    started_at: new Date(queuedAt),
    status: "queued",
    attempts: 0,
    record_seq: recordSeq(1, "queued"),
    idempotency_key: extra.idempotencyKey ?? null,
    trigger_id: extra.triggerId ?? null,
  };
}

/** The record that replaces a "queued" one whose message never reached the stream. */
export function notQueuedInvocation(queued: NewInvocation): NewInvocation {
  return {
    ...queued,
    status: "failed",
    error_code: "FN_008",
    error_message: "the invocation could not be queued",
    record_seq: recordSeq(1, "finished"),
    finished_at: new Date(),
  };
}
