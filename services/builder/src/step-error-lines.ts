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

/** npm's line for a package's install script that failed, and the script's own output after it. */
const NPM_SCRIPT_FAILED = /^npm (error|ERR!) command failed$/;
const NPM_SCRIPT = /^npm (error|ERR!) (path|command) /;
const NPM_PREFIX = /^npm (error|ERR!) ?/;
/** Script output that is no error of its own: stack frames, the caret under a source line, versions. */
const SCRIPT_NOISE = /^(at |\^+$|Node\.js v\d|Bun v\d|npm (error|ERR!))|^\s*$/;
const SCRIPT_ERROR = /error|exception|fail|cannot|not found|denied|missing/i;

const clip = (line: string) => (line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line);

/**
 * The lines of a failed step's output that carry the installer's or compiler's own error, for the
 * FN_005 message (the engine's "returned a non-zero code: 1" says only that something failed): the
 * first few error lines, or for a package's failed install script which package and script it was and,
 * last, the script's own error (npm's "code 1" and "command failed" say only that it failed).
 */
export function stepErrorLines(output: readonly string[]): string[] {
  const lines = output.map((raw) => plainLine(raw).trim());
  const failed = lines.findIndex((line) => NPM_SCRIPT_FAILED.test(line));
  if (failed !== -1) return npmScriptLines(lines);
  const found: string[] = [];
  for (const raw of output) {
    const line = plainLine(raw).trim();
    if (!line || HOLLOW.test(line) || !ERROR_LINE.some((re) => re.test(line))) continue;
    found.push(line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line);
    if (found.length === MAX_LINES) break;
  }
  return found;
}

/** npm's path and command lines of a failed install script, then the script's last error line. */
function npmScriptLines(lines: string[]): string[] {
  const found = lines.filter((line) => NPM_SCRIPT.test(line) && !NPM_SCRIPT_FAILED.test(line)).slice(0, 2);
  const command = lines.findIndex((line) => /^npm (error|ERR!) command (?!failed$)/.test(line));
  const script = lines
    .slice(command + 1)
    .filter((line) => NPM_PREFIX.test(line) && !NPM_SCRIPT.test(line) && !HOLLOW.test(line))
    .map((line) => line.replace(NPM_PREFIX, "").trim())
    .filter((line) => !SCRIPT_NOISE.test(line));
  const error = script.findLast((line) => SCRIPT_ERROR.test(line)) ?? script.at(-1);
  if (error) found.push(error);
  return found.map(clip);
}
