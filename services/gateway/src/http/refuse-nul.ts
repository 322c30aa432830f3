import { KumoError } from "@kumo/core";
import type { FastifyInstance } from "fastify";

/** Deeper than any request body the API accepts; beyond it a body is not walked further. */
const MAX_DEPTH = 32;

/**
 * PostgreSQL text and jsonb cannot hold U+0000, so a NUL in any string that reaches the database
 * made the query fail as a platform error. One rule at the edge instead: the path parameters of
 * every route, and the query and JSON body of every management route, are refused with 400 FN_006
 * naming the field. Deployed files' contents (`body.files.*`) are bytes on their way into an
 * archive and may hold anything; invocation bodies and queries belong to the function.
 */
export function nulField(where: string, value: unknown, depth = 0): string | null {
  if (typeof value === "string") return value.includes("\u0000") ? where : null;
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH || ArrayBuffer.isView(value))
    return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulField(`${where}.${i}`, value[i], depth + 1);
      if (found) return found;
    }
    return null;
  }
  const fileContents = where === "body.files";
  for (const [key, item] of Object.entries(value)) {
    const field = `${where}.${key}`;
    if (key.includes("\u0000")) return field;
    if (fileContents) continue;
    const found = nulField(field, item, depth + 1);
    if (found) return found;
  }
  return null;
}

export function nulError(field: string): KumoError {
  const message = "must not contain the NUL character (U+0000)";
  return new KumoError("FN_006", `invalid request: ${printable(field)}: ${message}`, {
    details: { problems: [{ field: printable(field), rule: "no-nul", message }] },
  });
}

/** Path parameters of every route (a wildcard's rest of the path belongs to the function). */
export function refuseNulInParams(app: FastifyInstance): void {
  app.addHook("preValidation", (request, _reply, done) => {
    const params = request.params as Record<string, unknown> | undefined;
    if (params) {
      for (const key in params) {
        if (key === "*") continue;
        const value = params[key];
        if (typeof value === "string" && value.includes("\u0000")) {
          done(nulError(`params.${key}`));
          return;
        }
      }
    }
    done();
  });
}

/** The query and JSON body of a management route. */
export function refuseNulInInput(app: FastifyInstance): void {
  app.addHook("preValidation", (request, _reply, done) => {
    const field = nulField("query", request.query) ?? nulField("body", request.body);
    done(field ? nulError(field) : undefined);
  });
}

/** A field name as it can be printed: a NUL in a key is shown as \u0000. */
function printable(field: string): string {
  return field.replaceAll("\u0000", "\\u0000");
}
