/**
 * The one coded error type of Kumo. Every boundary (HTTP, gRPC, NATS, isolate) carries
 * `{ code, message, details? }`; `http-status.ts` maps codes to transport statuses.
 */

/** Public error codes, stable and listed in the README. */
export const ERROR_CODES = {
  FN_001: "function not found",
  FN_002: "timeout",
  FN_003: "memory limit exceeded",
  FN_004: "runtime error (the handler threw)",
  FN_005: "deployment or build failed",
  FN_006: "invalid configuration or request",
  FN_007: "rate or concurrency limit",
  FN_008: "cold start failed or timed out",
  FN_009: "permission denied",
  FN_010: "payload too large",
  FN_500: "internal platform error",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The wire shape of an error, as it crosses every boundary. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** Whose fault an error is: user errors are 4xx and never logged as platform failures. */
export type ErrorFault = "user" | "function" | "platform";

const FAULT: Record<ErrorCode, ErrorFault> = {
  FN_001: "user",
  FN_002: "function",
  FN_003: "function",
  FN_004: "function",
  FN_005: "user",
  FN_006: "user",
  FN_007: "user",
  FN_008: "platform",
  FN_009: "user",
  FN_010: "user",
  FN_500: "platform",
};

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
    return FAULT[this.code];
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
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}

/** Shorthands for the errors raised most often, so call sites read as sentences. */
export const notFound = (what: string, details?: unknown) =>
  new KumoError("FN_001", `${what} not found`, { details });
export const invalid = (message: string, details?: unknown) => new KumoError("FN_006", message, { details });
export const denied = (message: string, status = 403) => new KumoError("FN_009", message, { status });
export const tooLarge = (message: string, details?: unknown) => new KumoError("FN_010", message, { details });
