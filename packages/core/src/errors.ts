/**
 * The one coded error type of Kumo. Every boundary (HTTP, gRPC, NATS, isolate) carries
 * `{ code, message, details? }`.
 */

/** Whose fault an error is: user errors are 4xx and never logged as platform failures. */
export type ErrorFault = "user" | "function" | "platform";

/**
 * Every error code, declared once: its title, whose fault it is and its HTTP status. The codes are
 * public, stable and listed in the README. gRPC (BuildError) and NATS (reply headers and bodies)
 * carry `{ code, message }` in-band, so they need no mapping of their own.
 */
export const ERRORS = {
  FN_001: { title: "function not found", fault: "user", status: 404 },
  FN_002: { title: "timeout", fault: "function", status: 504 },
  FN_003: { title: "memory limit exceeded", fault: "function", status: 502 },
  FN_004: { title: "runtime error (the handler threw)", fault: "function", status: 500 },
  FN_005: { title: "deployment or build failed", fault: "user", status: 422 },
  FN_006: { title: "invalid configuration or request", fault: "user", status: 400 },
  FN_007: { title: "rate or concurrency limit", fault: "user", status: 429 },
  FN_008: { title: "unavailable: no capacity, or a dependency is down", fault: "platform", status: 503 },
  FN_009: { title: "permission denied", fault: "user", status: 403 },
  FN_010: { title: "payload too large", fault: "user", status: 413 },
  FN_500: { title: "internal platform error", fault: "platform", status: 500 },
} as const satisfies Record<string, { title: string; fault: ErrorFault; status: number }>;

export type ErrorCode = keyof typeof ERRORS;

/** The wire shape of an error, as it crosses every boundary. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export interface KumoErrorOptions {
  details?: unknown;
  cause?: unknown;
  /** Overrides the default HTTP status of the code (e.g. FN_009 as 401 rather than 403). */
  status?: number;
}

export class KumoError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, options: KumoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KumoError";
    this.code = code;
    this.details = options.details;
    this.status = options.status;
  }

  get fault(): ErrorFault {
    return ERRORS[this.code].fault;
  }

  toJSON(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  /** Rebuilds an error from its wire shape; unknown codes become FN_500. */
  static fromBody(body: ErrorBody): KumoError {
    const code = isErrorCode(body.code) ? body.code : "FN_500";
    return new KumoError(code, body.message, { details: body.details });
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERRORS, value);
}

/** Shorthands for the errors raised most often, so call sites read as sentences. */
export const notFound = (what: string, details?: unknown) =>
  new KumoError("FN_001", `${what} not found`, { details });
export const invalid = (message: string, details?: unknown) => new KumoError("FN_006", message, { details });
export const denied = (message: string, status = 403) => new KumoError("FN_009", message, { status });
export const tooLarge = (message: string, details?: unknown) => new KumoError("FN_010", message, { details });

/** The HTTP status of an error: its own override, else its code's. */
export function httpStatusOf(error: KumoError): number {
  return error.status ?? ERRORS[error.code].status;
}

export function httpStatusOfCode(code: ErrorCode): number {
  return ERRORS[code].status;
}

/**
 * Wraps anything thrown into a KumoError; unknown errors are platform faults (FN_500). A database
 * that cannot be reached (restarting, failing over, connections cut) is FN_008, 503: a dependency
 * is unavailable for a moment and the request may be retried, not a defect.
 */
export function toKumoError(error: unknown): KumoError {
  if (error instanceof KumoError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isDatabaseUnavailable(error)) {
    return new KumoError("FN_008", `the database is unavailable (${message}); retry shortly`, {
      cause: error,
    });
  }
  return new KumoError("FN_500", `internal error: ${message}`, { cause: error });
}

/** SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, starting up). */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[1-3])/;
const UNAVAILABLE_ERRNO = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ENOTFOUND", "ETIMEDOUT"]);

/** Whether an error says the database could not be reached or went away (pg's errors carry `code`). */
function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code)))
    return true;
  // node-postgres's own messages when a connection ends under a query or cannot be made.
  return /^Connection terminated|^timeout exceeded when trying to connect|Client has encountered a connection error|^Client was closed/.test(
    error.message,
  );
}
