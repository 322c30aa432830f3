import { invalid } from "@kumo/core";

/** Opaque pagination cursors: base64url JSON of the last row's sort key. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** What each position of a cursor holds; decoding checks it, so a forged cursor is a 400, not a 500. */
export type CursorPart = "string" | "int" | "date";

type PartValue<P extends CursorPart> = P extends "int" ? number : P extends "date" ? Date : string;

export function decodeCursor<const P extends readonly CursorPart[]>(
  cursor: string,
  parts: P,
): { [K in keyof P]: PartValue<P[K]> } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && parsed.length === parts.length) {
      const values = parts.map((part, i) => decodePart(part, parsed[i]));
      if (values.every((v) => v !== undefined)) return values as { [K in keyof P]: PartValue<P[K]> };
    }
  } catch {
    // fall through to the user-facing error
  }
  throw invalid("invalid cursor: pass the nextCursor value of a previous page unchanged", {
    problems: [{ field: "cursor", rule: "cursor", message: "not a cursor issued by this API" }],
  });
}

/** A cursor holding one row id of the given prefix (ids sort by creation time). */
export function decodeIdCursor(cursor: string, prefix: string): string {
  const [id] = decodeCursor(cursor, ["string"]);
  if (!id.startsWith(`${prefix}_`)) {
    throw invalid("invalid cursor: pass the nextCursor value of a previous page of this list unchanged", {
      problems: [{ field: "cursor", rule: "cursor", message: "not a cursor issued for this list" }],
    });
  }
  return id;
}

function decodePart(part: CursorPart, value: unknown): string | number | Date | undefined {
  if (part === "string") return typeof value === "string" && value.length <= 200 ? value : undefined;
  if (part === "int") return Number.isSafeInteger(value) ? (value as number) : undefined;
  if (typeof value !== "string") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageOptions {
  limit: number;
  cursor?: string | undefined;
}

/** Fetch limit+1 rows, return limit and a cursor if there was more. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  keyOf: (row: R) => (string | number)[],
  map: (row: R) => T,
): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return { items: kept.map(map), nextCursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
