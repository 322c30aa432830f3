import { KumoError } from "@kumo/core";
import type { FunctionRow, QuotaLimits, QuotaName, TenantStore } from "@kumo/db";
import { pruneVersions } from "../deploy/prune-versions.ts";

const DAY_MS = 86_400_000;

/** FN_006 (409) naming the quota, its limit and the use: what a management request over a quota gets. */
export function overQuota(
  quota: QuotaName,
  limit: number,
  used: number,
  what: string,
  fix: string,
): KumoError {
  return new KumoError(
    "FN_006",
    `tenant quota "${quota}" reached: ${what} (limit ${limit}, in use ${used}); ${fix}`,
    {
      status: 409,
      details: { quota, limit, used },
    },
  );
}

const ASK = "or ask the platform admin to raise it";

/** Before creating a function: the tenant's function count is below its quota. */
export async function checkFunctionQuota(limits: QuotaLimits, store: TenantStore): Promise<void> {
  if (limits.functions === null) return;
  const used = await store.usage.functionCount();
  if (used >= limits.functions)
    throw overQuota("functions", limits.functions, used, `${used} functions`, `delete one ${ASK}`);
}

/**
 * Before a deploy: room for one more version of `fn` (older versions nothing points at are pruned
 * to make it), build minutes left today (UTC), and stored bytes (sources and logs) under the quota.
 */
export async function checkDeployQuotas(
  limits: QuotaLimits,
  store: TenantStore,
  fn: FunctionRow,
  actor: string,
  now = Date.now(),
): Promise<void> {
  if (limits.buildMinutesPerDay !== null) {
    const usedMs = await store.usage.buildMsSince(new Date(now - (now % DAY_MS)), new Date(now));
    const used = Math.round((usedMs / 60_000) * 100) / 100;
    if (used >= limits.buildMinutesPerDay)
      throw overQuota(
        "buildMinutesPerDay",
        limits.buildMinutesPerDay,
        used,
        `${used} build minutes used today (UTC)`,
        `deploy again after midnight UTC ${ASK}`,
      );
  }
  if (limits.storedBytes !== null) {
    const bytes = await store.usage.storedBytes();
    const used = bytes.sources + bytes.logs;
    if (used >= limits.storedBytes)
      throw overQuota(
        "storedBytes",
        limits.storedBytes,
        used,
        `${bytes.sources} bytes of sources and builds and ${bytes.logs} bytes of logs stored`,
        `delete functions or old versions, shorten log retention, ${ASK}`,
      );
  }
  if (limits.versionsPerFunction !== null) {
    const keep = limits.versionsPerFunction;
    let used = await store.usage.versionCount(fn.id);
    if (used >= keep && keep > 0) {
      await pruneVersions(store, fn, keep - 1, actor);
      used = await store.usage.versionCount(fn.id);
    }
    if (used >= keep)
      throw overQuota(
        "versionsPerFunction",
        keep,
        used,
        `function "${fn.name}" keeps ${used} versions that aliases or rollouts still point at`,
        `move its aliases off old versions ${ASK}`,
      );
  }
}
