import {
  type FunctionConfig,
  type InvocationRequest,
  newInvocationId,
  STEP_EVENT_TYPE,
  type TriggerKind,
} from "@kumo/core";
import { invalidLocalInput } from "../errors.ts";

/**
 * The invocation requests local runs send, shaped as the platform's are: an HTTP request as the
 * gateway forwards it, a triggered event as `POST /` with its JSON and `kumo-event-type`, and a
 * workflow step as `POST /v1/functions/:name/run` sends it.
 */

export interface HttpSample {
  method: string;
  /** Path and query, e.g. "/items?limit=2". */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
}

export function httpInvocation(sample: HttpSample, config: FunctionConfig): InvocationRequest {
  const invocationId = newInvocationId();
  const deadline = Date.now() + config.timeoutMs;
  const headers: Record<string, string> = { host: "127.0.0.1", ...lowerCased(sample.headers) };
  return {
    invocationId,
    trigger: "http",
    method: sample.method.toUpperCase(),
    url: sample.path.startsWith("/") ? sample.path : `/${sample.path}`,
    headers: { ...headers, "kumo-invocation-id": invocationId, "kumo-deadline-ms": String(deadline) },
    body: sample.body,
    deadline,
  };
}

/** A triggered run's event: `eventType` is the trigger kind the function sees (cron, queue, event...). */
export function eventInvocation(
  eventType: string,
  event: unknown,
  config: FunctionConfig,
): InvocationRequest {
  const invocationId = newInvocationId();
  const deadline = Date.now() + config.timeoutMs;
  const trigger: TriggerKind =
    eventType === "cron" || eventType === "queue" || eventType === "database" ? eventType : "event";
  return {
    invocationId,
    trigger,
    method: "POST",
    url: "/",
    headers: {
      host: "127.0.0.1",
      "content-type": "application/json",
      "kumo-event-type": eventType,
      "kumo-invocation-id": invocationId,
      "kumo-deadline-ms": String(deadline),
    },
    body: Buffer.from(JSON.stringify(event)),
    deadline,
  };
}

/** A workflow step: `{ input, context }` with the function's name and version 0 (a local run). */
export function stepInvocation(
  input: unknown,
  context: Record<string, unknown>,
  functionName: string,
  config: FunctionConfig,
): InvocationRequest {
  const request = eventInvocation(
    STEP_EVENT_TYPE,
    { input, context: { ...context, function: functionName, version: 0 } },
    config,
  );
  return { ...request, trigger: "step" };
}

/**
 * A `--request` file: `{ method?, path?, headers?, body? }`. A string body is sent as it is; any
 * other JSON value is sent as JSON (with content-type application/json unless the file sets one).
 */
export function parseHttpSample(text: string, file: string): HttpSample {
  const value = parseJsonFile(text, file);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidLocalInput(`${file} must hold a JSON object { method?, path?, headers?, body? }`);
  }
  const { method = "GET", path = "/", headers = {}, body } = value as Record<string, unknown>;
  if (typeof method !== "string" || !/^[A-Za-z]+$/.test(method)) {
    throw invalidLocalInput(`${file}: "method" must be an HTTP method such as "GET" or "POST"`);
  }
  if (typeof path !== "string")
    throw invalidLocalInput(`${file}: "path" must be a string such as "/items?limit=2"`);
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
    throw invalidLocalInput(`${file}: "headers" must be an object of header names to string values`);
  }
  const shown: Record<string, string> = {};
  for (const [name, v] of Object.entries(headers)) {
    if (typeof v !== "string") throw invalidLocalInput(`${file}: header "${name}" must be a string`);
    shown[name.toLowerCase()] = v;
  }
  let bytes: Uint8Array | null = null;
  if (typeof body === "string") bytes = Buffer.from(body);
  else if (body !== undefined && body !== null) {
    bytes = Buffer.from(JSON.stringify(body));
    shown["content-type"] ??= "application/json";
  }
  return { method, path, headers: shown, body: bytes };
}

/** A JSON file the user passed (`--event`, `--input`, `--request`); its name in the message when it is not JSON. */
export function parseJsonFile(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidLocalInput(`${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
