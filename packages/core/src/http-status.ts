import type { ErrorCode } from "./errors.ts";
import { KumoError } from "./errors.ts";

/** The one place that maps error codes to HTTP statuses. */
const HTTP_STATUS: Record<ErrorCode, number> = {
  FN_001: 404,
  FN_002: 504,
  FN_003: 502,
  FN_004: 500,
  FN_005: 422,
  FN_006: 400,
  FN_007: 429,
  FN_008: 503,
  FN_009: 403,
  FN_010: 413,
  FN_500: 500,
};

export function httpStatusOf(error: KumoError): number {
  return error.status ?? HTTP_STATUS[error.code];
}

export function httpStatusOfCode(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/** Wraps anything thrown into a KumoError; unknown errors are platform faults (FN_500). */
export function toKumoError(error: unknown): KumoError {
  if (error instanceof KumoError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new KumoError("FN_500", `internal error: ${message}`, { cause: error });
}
