import { ERRORS, type ErrorCode, isErrorCode } from "./errors.ts";
import type { FunctionLogLine, InvocationResult } from "./invocation-result.ts";

/**
 * A workflow step's outcome as callers see it (`POST /v1/functions/:name/run`, and the async run's
 * destination webhook): built here from an invocation's result, so the gateway and the autoscaler
 * say the same thing. Runtimes answer a step invocation with the `kumo-step` envelope
 * (runtimes/shared/step.mjs); anything else (a function without `step`, a custom image) is read as
 * its response: the body is the output (JSON when it parses), a 5xx is the step's error.
 */

/** The event type (header `kumo-event-type`) a step invocation carries. */
export const STEP_EVENT_TYPE = "step";
/** The header a runtime marks its step envelope with. */
export const STEP_HEADER = "kumo-step";
/** The path of a step that returned a plain value, and of a failed one. */
export const STEP_DEFAULT_PATH = "default";
export const STEP_ERROR_PATH = "error";

export interface StepError {
  code: ErrorCode;
  message: string;
  /** The function's own stack (frames in its code), when the runtime reported one. */
  stack?: string;
}

export interface StepOutcome {
  output: unknown;
  nextPath: string;
  error?: StepError;
  logs: FunctionLogLine[];
}

/** The parts of a result a step outcome is read from (the body read whole). */
export type StepResultInput = Pick<InvocationResult, "status" | "headers" | "error" | "logs">;

export function stepOutcome(result: StepResultInput, body: Uint8Array): StepOutcome {
  const marked = result.headers.some(([name, value]) => name === STEP_HEADER && value === "1");
  const json = marked || isJsonType(result.headers) ? parseJson(body) : undefined;
  const envelope = isRecord(json) ? json : {};
  const logs = result.logs.length > 0 ? result.logs : logLines(envelope.logs);
  if (result.error || result.status >= 500) {
    const details = isRecord(result.error?.details) ? result.error.details : {};
    const code = result.error?.code ?? (isErrorCode(envelope.code) ? envelope.code : "FN_004");
    const message =
      result.error?.message ??
      (typeof envelope.message === "string" ? envelope.message : `the function answered ${result.status}`);
    const stack = stringOr(details.stack) ?? stringOr(envelope.stack);
    const error: StepError = stack ? { code, message, stack } : { code, message };
    const nextPath = stringOr(details.nextPath) ?? stringOr(envelope.nextPath) ?? STEP_ERROR_PATH;
    return { output: null, nextPath, error, logs };
  }
  if (marked) {
    return {
      output: envelope.output ?? null,
      nextPath: stringOr(envelope.nextPath) ?? STEP_DEFAULT_PATH,
      logs,
    };
  }
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  const output = json !== undefined ? json : text === "" ? null : text;
  return { output, nextPath: STEP_DEFAULT_PATH, logs };
}

/** Whether a step's error is the function's own (answered in-band) rather than the platform's or the caller's. */
export function isFunctionFault(code: ErrorCode): boolean {
  return ERRORS[code].fault === "function";
}

function isJsonType(headers: [string, string][]): boolean {
  const type = headers.find(([name]) => name === "content-type")?.[1] ?? "";
  return /^application\/([^;]*\+)?json/i.test(type);
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
  } catch {
    return undefined;
  }
}

const LEVELS = new Set(["debug", "info", "warn", "error"]);

/** The envelope's lines (container runtimes send theirs there), well-typed ones only. */
function logLines(value: unknown): FunctionLogLine[] {
  if (!Array.isArray(value)) return [];
  const lines: FunctionLogLine[] = [];
  for (const line of value) {
    if (!isRecord(line) || typeof line.message !== "string") continue;
    const level = typeof line.level === "string" && LEVELS.has(line.level) ? line.level : "info";
    lines.push({
      ts: typeof line.ts === "number" ? line.ts : Date.now(),
      level: level as FunctionLogLine["level"],
      message: line.message,
    });
  }
  return lines;
}

function stringOr(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
