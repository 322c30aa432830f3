import type { z } from "zod";
import { invalid, type KumoError } from "./errors.ts";

/** One problem with user input: the field it concerns and the rule it broke. */
export interface Problem {
  field: string;
  rule: string;
  message: string;
}

export function problemsOf(error: z.ZodError): Problem[] {
  return error.issues
    .flatMap((issue) => flatten(issue, []))
    .map((issue) => ({
      field: issue.path.length === 0 ? "(body)" : issue.path.map(String).join("."),
      rule: issue.code,
      message: issue.message,
    }));
}

type Issue = z.core.$ZodIssue;

/**
 * A union's "Invalid input" says nothing useful. When exactly one alternative got past the value's
 * type (`httpAuth: { jwt: {...} }` against `"public" | "key" | { jwt }`), its own problems are the
 * user's; when none did, the alternatives are listed.
 */
function flatten(
  issue: Issue,
  prefix: PropertyKey[],
): { path: PropertyKey[]; code: string; message: string }[] {
  const path = [...prefix, ...issue.path];
  if (issue.code !== "invalid_union" || issue.errors.length === 0)
    return [{ path, code: issue.code, message: issue.message }];
  const atRoot = (branch: Issue[]) =>
    branch.every((i) => i.path.length === 0 && (i.code === "invalid_type" || i.code === "invalid_value"));
  const further = issue.errors.filter((branch) => !atRoot(branch));
  const [only] = further;
  if (further.length === 1 && only) return only.flatMap((i) => flatten(i, path));
  if (further.length === 0)
    return [
      { path, code: issue.code, message: issue.errors.map((b) => b[0]?.message ?? "invalid").join("; or ") },
    ];
  return [{ path, code: issue.code, message: issue.message }];
}

/** FN_006 naming every problem, so one round trip fixes them all. */
export function invalidInput(what: string, error: z.ZodError): KumoError {
  const problems = problemsOf(error);
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
  return invalid(`invalid ${what}: ${summary}`, { problems });
}

/** Parses with a schema or throws FN_006 listing each problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidInput(what, result.error);
  return result.data;
}
