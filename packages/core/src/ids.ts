import { randomBytes, randomUUID } from "node:crypto";

/** Prefixed, sortable-enough identifiers: the prefix tells a reader what an id is. */
export type IdPrefix = "ten" | "key" | "fn" | "ver" | "dep" | "inv" | "trg" | "rte" | "dom" | "rol";

export function newId(prefix: IdPrefix): string {
  const time = Date.now().toString(36).padStart(9, "0");
  return `${prefix}_${time}${randomBytes(8).toString("hex")}`;
}

/** Invocation ids are UUIDs so they can double as trace-friendly correlation ids. */
export function newInvocationId(): string {
  return randomUUID();
}
