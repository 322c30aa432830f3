import { KumoError } from "@kumo/core";
import type { OutputStream } from "./cli-io.ts";
import { CliError } from "./errors.ts";

/** One column of a human table. */
export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

/**
 * What a command prints. With `--json`, stdout carries exactly one JSON document (or one per line
 * when following a stream) and nothing else; without it, tables and sentences for people. Progress
 * and notes always go to stderr, so stdout stays clean for pipes.
 */
export class Output {
  readonly json: boolean;
  readonly #stdout: OutputStream;
  readonly #stderr: OutputStream;

  constructor(stdout: OutputStream, stderr: OutputStream, options: { json: boolean }) {
    this.#stdout = stdout;
    this.#stderr = stderr;
    this.json = options.json;
  }

  /** Prints `value` as JSON in --json mode, else runs `human`. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.#stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else human();
  }

  /** One JSON value on one line (for streams in --json mode). */
  jsonLine(value: unknown): void {
    this.#stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** A line of human output on stdout. */
  line(text = ""): void {
    this.#stdout.write(`${text}\n`);
  }

  /** Raw bytes to stdout (function responses). */
  raw(data: Uint8Array | string): void {
    this.#stdout.write(data);
  }

  /** A note for the person at the terminal, on stderr. */
  note(text: string): void {
    this.#stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    this.#stderr.write(`warning: ${text}\n`);
  }

  /** A table with a header row; `empty` is printed instead when there are no rows. */
  table<T>(rows: readonly T[], columns: readonly Column<T>[], empty = "(none)"): void {
    if (rows.length === 0) {
      this.line(empty);
      return;
    }
    const cells = [columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => c.value(row)))];
    const widths = columns.map((_, i) => Math.max(...cells.map((line) => (line[i] ?? "").length)));
    for (const line of cells) {
      const padded = line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)));
      this.line(padded.join("  ").trimEnd());
    }
  }

  /** Key/value lines for one object. */
  fields(pairs: readonly (readonly [string, string])[]): void {
    const width = Math.max(...pairs.map(([key]) => key.length));
    for (const [key, value] of pairs) this.line(`${`${key}:`.padEnd(width + 1)} ${value}`);
  }

  /** Prints an error on stderr: `error FN_001: function "x" not found`, or the envelope in --json mode. */
  error(error: unknown): void {
    const { code, message, details, hint } = describeError(error);
    if (this.json) {
      const body = details === undefined ? { code, message } : { code, message, details };
      this.#stderr.write(`${JSON.stringify({ error: body })}\n`);
      return;
    }
    this.#stderr.write(`error ${code}: ${message}\n`);
    for (const problem of problemsOf(details)) this.#stderr.write(`  - ${problem}\n`);
    if (hint) this.#stderr.write(`  ${hint}\n`);
  }
}

interface DescribedError {
  code: string;
  message: string;
  details: unknown;
  hint: string | undefined;
}

function describeError(error: unknown): DescribedError {
  if (error instanceof KumoError) {
    const invocationId = invocationIdOf(error.details);
    const hint =
      error.code === "FN_009"
        ? "check the API key (`kumo whoami`) and its role"
        : invocationId
          ? `logs of this invocation: kumo invocations ${invocationId}`
          : undefined;
    return { code: error.code, message: error.message, details: error.details, hint };
  }
  if (error instanceof CliError) {
    return { code: error.code, message: error.message, details: error.details, hint: error.hint };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: "INTERNAL", message, details: undefined, hint: "this is a bug in the kumo CLI" };
}

function invocationIdOf(details: unknown): string | undefined {
  if (typeof details !== "object" || details === null || !("invocationId" in details)) return undefined;
  return typeof details.invocationId === "string" ? details.invocationId : undefined;
}

/** The `problems` list of a validation error (FN_006), one readable line each. */
function problemsOf(details: unknown): string[] {
  if (typeof details !== "object" || details === null || !("problems" in details)) return [];
  const problems = details.problems;
  if (!Array.isArray(problems)) return [];
  const lines: string[] = [];
  for (const problem of problems) {
    if (typeof problem !== "object" || problem === null) continue;
    const field = "field" in problem && typeof problem.field === "string" ? problem.field : "?";
    const message = "message" in problem && typeof problem.message === "string" ? problem.message : "";
    lines.push(`${field}: ${message}`);
  }
  return lines;
}
