import { createHash } from "node:crypto";

/**
 * Chooses a version from weighted routing. With a sticky key (a user id from a header or cookie) the
 * choice is a pure function of the key, so one user keeps seeing one version while weights hold.
 */
export function pickVersion(
  routing: readonly { version: number; weight: number }[],
  stickyKey?: string,
): number | undefined {
  if (routing.length === 0) return undefined;
  if (routing.length === 1) return routing[0]?.version;
  const total = routing.reduce((sum, r) => sum + r.weight, 0);
  if (total <= 0) return undefined;
  const point = stickyKey === undefined ? Math.random() * total : stickyPoint(stickyKey) * total;
  let acc = 0;
  for (const entry of routing) {
    acc += entry.weight;
    if (point < acc) return entry.version;
  }
  return routing.at(-1)?.version;
}

/** A uniform point in [0, 1) derived from the key. */
function stickyPoint(key: string): number {
  const digest = createHash("sha256").update(key).digest();
  return digest.readUInt32BE(0) / 0x1_0000_0000;
}
