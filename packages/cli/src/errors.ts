import { KumoError } from "@kumo/core";

/**
 * Exit codes scripts can trust. Server errors keep their `FN_00x` code; problems found before
 * anything reaches the server (bad flags, a broken kumo.json, no credentials) are CLI errors.
 */
export const EXIT_CODES = {
  ok: 0,
  error: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** Labels of CLI-side errors; server errors use the public `FN_00x` codes instead. */
export type CliErrorCode =
  | "USAGE"
  | "NOT_LOGGED_IN"
  | "UNREACHABLE"
  | "UNAVAILABLE"
  | "INTERRUPTED"
  | "FN_006"
  | "HTTP";

export interface CliErrorOptions {
  details?: unknown;
  cause?: unknown;
  /** A hint printed under the message, e.g. the command that fixes the problem. */
  hint?: string;
}

/** An error raised by the CLI itself; it knows its exit code. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly exitCode: ExitCode;
  readonly details: unknown;
  readonly hint: string | undefined;

  constructor(code: CliErrorCode, exitCode: ExitCode, message: string, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliError";
    this.code = code;
    this.exitCode = exitCode;
    this.details = options.details;
    this.hint = options.hint;
  }
}

/** Wrong flags or arguments: exit 2, with the command's usage as the hint. */
export const usageError = (message: string, hint?: string) =>
  new CliError("USAGE", EXIT_CODES.usage, message, { hint });

export const notLoggedIn = (url: string) =>
  new CliError("NOT_LOGGED_IN", EXIT_CODES.auth, `not logged in to ${url}`, {
    hint: "run `kumo login` or set KUMO_API_KEY",
  });

export const unreachable = (url: string, cause: unknown) =>
  new CliError("UNREACHABLE", EXIT_CODES.error, `cannot reach Kumo at ${url}: ${describeCause(cause)}`, {
    cause,
    hint: "check --url / KUMO_URL, and that the gateway is running (`npm start` in a Kumo checkout starts one locally)",
  });

export const interrupted = () => new CliError("INTERRUPTED", EXIT_CODES.interrupted, "interrupted");

/** A local file the user wrote (kumo.json, --data @file) is invalid: nothing was sent. */
export const invalidLocalInput = (message: string, details?: unknown) =>
  new CliError("FN_006", EXIT_CODES.usage, message, { details });

/** Maps any thrown value to the process exit code. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof KumoError) {
    if (error.code === "FN_009") return EXIT_CODES.auth;
    if (error.code === "FN_001") return EXIT_CODES.notFound;
    return EXIT_CODES.error;
  }
  return EXIT_CODES.error;
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause;
    if (inner instanceof Error) return inner.message;
    return cause.message;
  }
  return String(cause);
}
