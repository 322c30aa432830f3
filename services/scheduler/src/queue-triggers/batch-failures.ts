/**
 * Which messages of a batch the function reported as failed, Lambda's partial batch response:
 * `{ "batchItemFailures": [{ "itemIdentifier": "<message id>" }] }`. A body that is not such an
 * object means every message succeeded; an identifier that is empty or names no message of the
 * batch fails the whole batch (as Lambda does: the function's answer cannot be trusted).
 */
export function batchItemFailures(
  body: Uint8Array | null,
  ids: readonly string[],
): { failed: Set<string> } | { all: true; reason: string } {
  const failed = new Set<string>();
  if (!body || body.byteLength === 0) return { failed };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    return { failed };
  }
  if (!parsed || typeof parsed !== "object" || !("batchItemFailures" in parsed)) return { failed };
  const items = (parsed as { batchItemFailures: unknown }).batchItemFailures;
  if (items === null || items === undefined) return { failed };
  if (!Array.isArray(items)) return { all: true, reason: "batchItemFailures is not an array" };
  const known = new Set(ids);
  for (const item of items) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || !known.has(id)) {
      return {
        all: true,
        reason: `batchItemFailures names ${JSON.stringify(id ?? null)}, which is not a message of the batch`,
      };
    }
    failed.add(id);
  }
  return { failed };
}
