import type { FunctionRow, TenantStore } from "@kumo/db";

/**
 * Retention: keeps at most `keep` versions of a function. A version any alias points at (any weight,
 * 0 included) or a running rollout names is never deleted, so a function may keep more than `keep`.
 */
export async function pruneVersions(
  store: TenantStore,
  fn: FunctionRow,
  keep: number,
  actor: string,
): Promise<number[]> {
  const protect = new Set<number>();
  for (const alias of await store.aliases.list(fn.id)) for (const r of alias.routing) protect.add(r.version);
  for (const rollout of await store.rollouts.running(fn.id)) {
    protect.add(rollout.from_version);
    protect.add(rollout.to_version);
  }
  const pruned = await store.versions.prune(fn.id, keep, protect);
  if (pruned.length > 0)
    await store.audit.record(actor, "version.prune", `function/${fn.name}`, { versions: pruned, keep });
  return pruned;
}
