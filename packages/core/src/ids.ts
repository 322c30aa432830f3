import { createHash, randomBytes, randomUUID } from "node:crypto";

/** Prefixed, sortable-enough identifiers: the prefix tells a reader what an id is. */
export type IdPrefix =
  | "ten"
  | "key"
  | "fn"
  | "ver"
  | "dep"
  | "inv"
  | "trg"
  | "rte"
  | "dom"
  | "rol"
  | "evt"
  | "msg"
  | "alr"
  | "ale";

export function newId(prefix: IdPrefix): string {
  const time = Date.now().toString(36).padStart(9, "0");
  return `${prefix}_${time}${randomBytes(8).toString("hex")}`;
}

/** Invocation ids are UUIDs so they can double as trace-friendly correlation ids. */
export function newInvocationId(): string {
  return randomUUID();
}

/**
 * A UUID (version 8, RFC 9562) derived from a name: the same name always gives the same id, so a
 * firing that is published twice (a scheduler failover) lands on one invocation record.
 */
export function invocationIdFor(name: string): string {
  const bytes = createHash("sha256").update(name).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
