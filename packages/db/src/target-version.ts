import { notFound, pickVersion } from "@kumo/core";
import type { AliasesRepo } from "./aliases-repo.ts";
import type { FunctionRow, VersionRow } from "./schema.ts";
import type { VersionsRepo } from "./versions-repo.ts";

/** What `targetVersion` reads: a TenantStore, or a caller's caching facade over one. */
export interface VersionLookups {
  versions: Pick<VersionsRepo, "get">;
  aliases: Pick<AliasesRepo, "get">;
}

const VERSION_SELECTOR = /^v(\d{1,9})$/;

/** A target is an alias ("live", "canary") or a pinned version ("v3"). */
export function parseVersionSelector(selector: string): { version: number } | { alias: string } {
  const match = VERSION_SELECTOR.exec(selector);
  return match ? { version: Number(match[1]) } : { alias: selector };
}

/**
 * The version a target of a function runs now, read from the database (weighted aliases pick by
 * their weights). What the gateway's cached resolver does per request, for callers without that
 * cache (the scheduler, once per firing). FN_001 saying what is missing.
 */
export async function targetVersion(
  store: VersionLookups,
  fn: FunctionRow,
  selector: string,
): Promise<VersionRow> {
  const parsed = parseVersionSelector(selector);
  if ("version" in parsed) {
    const version = await store.versions.get(fn.id, parsed.version);
    if (!version) throw notFound(`version ${parsed.version} of function "${fn.name}"`);
    return version;
  }
  const alias = await store.aliases.get(fn.id, parsed.alias);
  if (!alias) {
    throw parsed.alias === "live"
      ? notFound(`function "${fn.name}" has no deployed version yet; deploy it first`)
      : notFound(`alias "${parsed.alias}" of function "${fn.name}"`);
  }
  const chosen = pickVersion(alias.routing);
  const version = chosen === undefined ? undefined : await store.versions.get(fn.id, chosen);
  if (!version)
    throw notFound(`alias "${parsed.alias}" of function "${fn.name}" points to no existing version`);
  return version;
}
