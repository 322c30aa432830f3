import { RESOURCE_NAME } from "@kumo/core";
import { usageError } from "./errors.ts";

/** `hello`, `hello@beta` (an alias) or `hello@v3` (a version; `hello@3` is read as v3). */
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
  return { name, target: target === undefined ? undefined : target.replace(/^(\d)/, "v$1") };
}

/** The address the gateway resolves: `hello`, `hello@beta`, `hello@v3`. */
export function addressOf(ref: FunctionRef): string {
  return ref.target === undefined ? ref.name : `${ref.name}@${ref.target}`;
}

/** A plain function name (no @alias), as most commands take. */
export function parseFunctionName(input: string): string {
  const ref = parseFunctionRef(input);
  if (ref.target !== undefined) throw usageError(`expected a function name, got "${input}"`);
  return ref.name;
}
