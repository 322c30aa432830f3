import type { VersionChanges, VersionRow } from "@kumo/db";

/** What a new version changes against the newest one before it: source, runtime, config keys. */
export function versionChanges(
  previous: Pick<VersionRow, "version" | "source_digest" | "runtime" | "config"> | undefined,
  next: { sourceDigest: string; runtime: string; config: unknown },
): VersionChanges {
  const after = asRecord(next.config);
  if (!previous) {
    return {
      previousVersion: null,
      sourceChanged: true,
      runtimeChanged: true,
      configKeys: Object.keys(after).sort(),
    };
  }
  const before = asRecord(previous.config);
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const configKeys = [...keys].filter((k) => stableJson(before[k]) !== stableJson(after[k])).sort();
  return {
    previousVersion: previous.version,
    sourceChanged: previous.source_digest !== next.sourceDigest,
    runtimeChanged: previous.runtime !== next.runtime,
    configKeys,
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** JSON with object keys sorted, so {a,b} and {b,a} compare equal (jsonb does not keep key order). */
function stableJson(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
    ) ?? "undefined"
  );
}
