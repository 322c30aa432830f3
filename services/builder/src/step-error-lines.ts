/** ANSI colour sequences (the engine wraps a step's stderr in red). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what these sequences start with
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/**
 * Lines that state an error in the words of the tool that failed: npm's `npm error code E404`,
 * pip's `ERROR: ...`, bun's and deno's `error: ...`, a compiler's `handler.go:3:15: ...`, git's
 * `fatal: ...`.
 */
const ERROR_LINE = [
  /^npm (error|ERR!) /,
  /^ERROR: /,
  /^error(\[\w+\])?: /i,
  /^[\w./-]+\.\w+:\d+(:\d+)?: /,
  /^(fatal|E): /,
];

/** npm lines that say nothing on their own: `npm error 404`, where to find the debug log. */
const HOLLOW = /^npm (error|ERR!)( \d+)?\s*$|A complete log of this run can be found/;

const MAX_LINES = 3;
const MAX_LINE_CHARS = 300;

/** Removes terminal colour sequences and trailing space from a build log line. */
export function plainLine(line: string): string {
  return line.replace(ANSI, "").trimEnd();
}

/**
 * The first few lines of a failed step's output that carry the installer's or compiler's own error,
 * for the FN_005 message (the engine's "returned a non-zero code: 1" says only that something failed).
 */
export function stepErrorLines(output: readonly string[]): string[] {
  const found: string[] = [];
  for (const raw of output) {
    const line = plainLine(raw).trim();
    if (!line || HOLLOW.test(line) || !ERROR_LINE.some((re) => re.test(line))) continue;
    found.push(line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line);
    if (found.length === MAX_LINES) break;
  }
  return found;
}
