/**
 * The slot and publication of a database trigger on the tenant's server: `kumo_<trigger id>`,
 * lower-case letters, digits and `_` only (PostgreSQL folds and quotes nothing then), at most 63
 * characters (NAMEDATALEN). Trigger ids (`trg_` + 25 characters) fit with room to spare.
 */
export function replicationName(triggerId: string): string {
  return `kumo_${triggerId.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`.slice(0, 63);
}

/** The additional data sealing the scheduler's copy of a trigger's connection string. */
export function triggerSlotContext(tenantId: string, triggerId: string): string {
  return `trigger-slot/${tenantId}/${triggerId}`;
}
