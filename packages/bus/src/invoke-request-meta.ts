import type { DeployedVersion, InvocationRequest } from "@kumo/core";
import type { InvokeRequestMeta } from "./invocation-frame.ts";

/** Which version an invocation runs, as the bus names it. */
export type InvocationTarget = Pick<DeployedVersion, "tenantId" | "functionId" | "versionId" | "version"> & {
  /** Absent when the sender holds no secrets (the scheduler): nodes use their current copy. */
  envDigest?: string | undefined;
};

/** The request description sent to autoscalers, for both the sync path and async messages. */
export function invokeRequestMeta(
  target: InvocationTarget,
  request: InvocationRequest,
  bodyBytes: number,
): InvokeRequestMeta {
  const meta: InvokeRequestMeta = {
    k: "req",
    id: request.invocationId,
    tenantId: target.tenantId,
    functionId: target.functionId,
    versionId: target.versionId,
    version: target.version,
    trigger: request.trigger,
    method: request.method,
    url: request.url,
    headers: request.headers,
    deadline: request.deadline,
    bodyBytes,
  };
  if (target.envDigest !== undefined) meta.envDigest = target.envDigest;
  return meta;
}
