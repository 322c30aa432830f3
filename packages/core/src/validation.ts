import type { z } from "zod";
import { invalid, type KumoError } from "./errors.ts";

/** One problem with user input: the field it concerns and the rule it broke. */
export interface Problem {
  field: string;
  rule: string;
  message: string;
}

export function problemsOf(error: z.ZodError): Problem[] {
  return error.issues.map((issue) => ({
    field: issue.path.length === 0 ? "(body)" : issue.path.map(String).join("."),
    rule: issue.code,
    message: issue.message,
  }));
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
