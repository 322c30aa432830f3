import { KumoError } from "@kumo/core";
import type { FastifyReply } from "fastify";
import type { Release, TenantQuotas } from "./tenant-quotas.ts";

/**
 * Admits one invocation to its tenant's runtime quotas (see TenantQuotas); over one, the 429
 * FN_007 carries Retry-After. A promise only the first time a gateway sees the tenant, so the
 * invocation path pays no extra await once the tenant's quotas are cached.
 */
export function admitInvocation(
  quotas: TenantQuotas,
  reply: FastifyReply,
  tenantId: string,
  concurrent: boolean,
): Release | Promise<Release> {
  const refused = (error: unknown): never => {
    const details =
      error instanceof KumoError ? (error.details as { retryAfterSeconds?: unknown }) : undefined;
    if (typeof details?.retryAfterSeconds === "number")
      reply.raw.setHeader("retry-after", String(details.retryAfterSeconds));
    throw error;
  };
  try {
    const admitted = quotas.admit(tenantId, concurrent);
    return admitted instanceof Promise ? admitted.catch(refused) : admitted;
  } catch (error) {
    return refused(error);
  }
}
