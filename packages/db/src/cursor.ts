import { invalid } from "@kumo/core";

/** Opaque pagination cursors: base64url JSON of the last row's sort key. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

export function decodeCursor(cursor: string, arity: number): (string | number)[] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(parsed) &&
      parsed.length === arity &&
      parsed.every((v) => typeof v === "string" || typeof v === "number")
    ) {
      return parsed;
    }
  } catch {
    // fall through to the user-facing error
  }
  throw invalid("invalid cursor: pass the nextCursor value of a previous page unchanged", {
    problems: [{ field: "cursor", rule: "cursor", message: "not a cursor issued by this API" }],
  });
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
