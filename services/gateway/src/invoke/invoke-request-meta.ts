import type { InvokeRequestMeta } from "@kumo/bus";
import type { DeployedVersion, InvocationRequest } from "@kumo/core";

/** The request description sent to autoscalers, for both the sync path and async messages. */
export function invokeRequestMeta(
  target: DeployedVersion,
  request: InvocationRequest,
  bodyBytes: number,
): InvokeRequestMeta {
  return {
    k: "req",
    id: request.invocationId,
    tenantId: target.tenantId,
    functionId: target.functionId,
    versionId: target.versionId,
    version: target.version,
    envDigest: target.envDigest,
    trigger: request.trigger,
    method: request.method,
    url: request.url,
    headers: request.headers,
    deadline: request.deadline,
    bodyBytes,
  };
}
