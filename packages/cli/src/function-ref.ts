import { RESOURCE_NAME } from "@kumo/core";
import { usageError } from "./errors.ts";

/** `hello`, `hello@beta` (an alias) or `hello@3` (a version). */
export interface FunctionRef {
  name: string;
  target: string | undefined;
}

const TARGET = /^(?:[a-z][a-z0-9-]{0,62}|v?\d{1,9})$/;

export function parseFunctionRef(input: string): FunctionRef {
  const at = input.indexOf("@");
  const name = at === -1 ? input : input.slice(0, at);
  const target = at === -1 ? undefined : input.slice(at + 1);
  if (!RESOURCE_NAME.test(name)) {
    throw usageError(
      `invalid function name "${name}": lowercase letters, digits and '-', starting with a letter`,
    );
  }
  if (target !== undefined && !TARGET.test(target)) {
    throw usageError(`invalid alias or version "${target}" in "${input}"`);
  }
  return { name, target: target?.replace(/^v(?=\d)/, "") };
}

/** A plain function name (no @alias), as most commands take. */
export function parseFunctionName(input: string): string {
  const ref = parseFunctionRef(input);
  if (ref.target !== undefined) throw usageError(`expected a function name, got "${input}"`);
  return ref.name;
}
