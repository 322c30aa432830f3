/** Labels on every container the autoscaler creates, so a restarted node finds what it left behind. */
export const containerLabels = {
  managed: "dev.kumo.managed",
  node: "dev.kumo.node",
  versionId: "dev.kumo.version-id",
  /** "instance" (a version's container) or "stem-cell" (a generic container not yet specialized). */
  role: "dev.kumo.role",
  runtime: "dev.kumo.runtime",
} as const;
