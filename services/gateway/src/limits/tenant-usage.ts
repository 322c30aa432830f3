import type { QuotaLimits, QuotaName, TenantStore } from "@kumo/db";
import type { TenantQuotas } from "./tenant-quotas.ts";

const DAY_MS = 86_400_000;

export interface QuotaUse {
  /** null: unlimited. */
  limit: number | null;
  used: number;
}

export type TenantUsage = Record<QuotaName, QuotaUse> & {
  /** The parts of storedBytes. */
  storedBytesDetail: { sources: number; logs: number };
};

/** The tenant's use against each quota in force (`GET /v1/usage`). */
export async function tenantUsage(
  quotas: TenantQuotas,
  store: TenantStore,
  limits: QuotaLimits,
  now = Date.now(),
): Promise<TenantUsage> {
  const [functions, most, buildMs, bytes, invocations] = await Promise.all([
    store.usage.functionCount(),
    store.usage.mostVersions(),
    store.usage.buildMsSince(new Date(now - (now % DAY_MS)), new Date(now)),
    store.usage.storedBytes(),
    quotas.invocationsToday(store.tenantId),
  ]);
  return {
    functions: { limit: limits.functions, used: functions },
    versionsPerFunction: { limit: limits.versionsPerFunction, used: most.count },
    concurrency: { limit: limits.concurrency, used: quotas.concurrency(store.tenantId) },
    invocationsPerDay: { limit: limits.invocationsPerDay, used: invocations },
    buildMinutesPerDay: {
      limit: limits.buildMinutesPerDay,
      used: Math.round((buildMs / 60_000) * 100) / 100,
    },
    storedBytes: { limit: limits.storedBytes, used: bytes.sources + bytes.logs },
    storedBytesDetail: bytes,
  };
}
