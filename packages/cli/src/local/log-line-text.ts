import type { FunctionLogLine } from "@kumo/core";

/** A function's console line as `kumo dev` and `kumo test` print it: `  [warn] message`. */
export function logLineText(line: FunctionLogLine): string {
  return `  [${line.level}] ${line.message}`;
}
