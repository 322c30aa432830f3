import { ERRORS, type ErrorBody, isErrorCode } from "./errors.ts";

/**
 * What running a function gives back, the same on every side of NATS: the isolate host, the
 * container pools, the gateway and the async worker all produce and read this one shape, and build
 * it from a failure, a shim response or raw headers with the helpers below (never by hand).
 */

export type ColdStartKind = "warm" | "cold" | "stem-cell" | "unpaused";

export interface FunctionLogLine {
  ts: number;
  level: "debug" | "info" | "warn" | "error";
  message: string;
}

/** The part of a result known before its body: also the head frame a node sends over NATS. */
export interface InvocationHead {
  /**
   * A final status (200–599), with headers within RESPONSE_LIMITS: checkFunctionResponse is applied
   * where a function's response enters the platform (isolate host, container provider).
   */
  status: number;
  /** Lower-case names; per-hop headers (content-length, transfer-encoding, …) are not part of it. */
  headers: [string, string][];
  coldStart: ColdStartKind;
  /** Time the request waited for capacity before the handler started. */
  queueMs: number;
  /** What the invocation used, when its runtime measured it. */
  usage?: InvocationUsage;
}

/**
 * Resources of one invocation as its runtime measured them: an isolate's CPU time delta and heap
 * (sampled), a container shim's process CPU delta and rss at the response.
 */
export interface InvocationUsage {
  cpuMs?: number;
  memoryBytes?: number;
}

export interface InvocationResult extends InvocationHead {
  body: Uint8Array | AsyncIterable<Uint8Array>;
  /** Set when the invocation failed with a platform-known code (the body then is the error JSON). */
  error?: ErrorBody;
  logs: FunctionLogLine[];
}

/** The header a runtime shim marks its error envelope with (`kumo-error: FN_004`). */
const ERROR_HEADER = "kumo-error";

/**
 * A failure as a result: the `{ error }` envelope with the code's status. Details of a function's
 * own failure (its stack) stay out of the body, for the record only; a platform error shows them.
 */
export function errorResult(
  error: ErrorBody,
  coldStart: ColdStartKind = "warm",
  queueMs = 0,
  logs: FunctionLogLine[] = [],
): InvocationResult & { error: ErrorBody } {
  const known = isErrorCode(error.code) ? ERRORS[error.code] : ERRORS.FN_500;
  const shown =
    error.details === undefined || known.fault === "function"
      ? { code: error.code, message: error.message }
      : error;
  return {
    status: known.status,
    headers: [["content-type", "application/json; charset=utf-8"]],
    body: Buffer.from(JSON.stringify({ error: shown })),
    error,
    coldStart,
    queueMs,
    logs,
  };
}

/**
 * A whole response from a runtime shim: its error envelope (header `kumo-error`, the shim's
 * `{ code, message, stack }`) is recorded with its code, the stack kept in the error's details for
 * the record, and answered as the documented `{ error: { code, message } }` envelope, so a public
 * caller never sees the function's stack. A step's envelope (header `kumo-step`) is read by
 * stepOutcome and passes as the shim wrote it.
 */
export function fromShimResponse(head: InvocationHead, body: Uint8Array): InvocationResult {
  const result: InvocationResult = {
    status: head.status,
    headers: head.headers,
    body,
    coldStart: head.coldStart,
    queueMs: head.queueMs,
    logs: [],
  };
  if (head.usage) result.usage = head.usage;
  const code = head.headers.find(([name]) => name === ERROR_HEADER)?.[1];
  if (code === undefined || !isErrorCode(code)) return result;
  const envelope = shimEnvelope(body);
  const message = typeof envelope?.message === "string" ? envelope.message : "the function failed";
  const stack = typeof envelope?.stack === "string" && envelope.stack !== "" ? envelope.stack : undefined;
  result.error = stack ? { code, message, details: { stack } } : { code, message };
  if (!head.headers.some(([name]) => name === STEP_HEADER_NAME)) {
    result.headers = [
      ...head.headers.filter(([name]) => name !== "content-type"),
      ["content-type", "application/json; charset=utf-8"],
    ];
    result.body = Buffer.from(JSON.stringify({ error: { code, message } }));
  }
  return result;
}

/** The step envelope's header (step-result.ts's STEP_HEADER, which imports this module). */
const STEP_HEADER_NAME = "kumo-step";

function shimEnvelope(body: Uint8Array): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(
      Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"),
    );
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a finished invocation failed, for retries and destinations: its error, or FN_004 for any
 * other 5xx (with the message of a JSON body that has one).
 */
export function failureOf(result: InvocationResult, body: Uint8Array): ErrorBody | undefined {
  if (result.error) return result.error;
  if (result.status < 500) return undefined;
  return { code: "FN_004", message: envelopeMessage(body) ?? `the function answered ${result.status}` };
}

/** The `message` of a JSON error envelope (the shim's `{ code, message, stack }`), if it is one. */
function envelopeMessage(body: Uint8Array): string | undefined {
  try {
    const parsed = JSON.parse(
      Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"),
    ) as {
      message?: unknown;
    };
    return typeof parsed.message === "string" ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}

/** node:http's rawHeaders (names and values alternating) as lower-case pairs, without the names in `drop`. */
export function headerPairs(raw: readonly string[], drop?: ReadonlySet<string>): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? "").toLowerCase();
    if (drop === undefined || !drop.has(name)) pairs.push([name, raw[i + 1] ?? ""]);
  }
  return pairs;
}

/** Headers that describe one hop's framing, never a response's content. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
]);
