// Workflow steps, `step(input, context)`, the same way in every JS runtime: the edge isolate bootstrap
// bundles this file, the node/bun/deno shim imports it (shipped as lambda-event.mjs is). The Python
// shim follows the same rules (step_* in kumo_shim.py): keep the two in step.
//
// A step invocation is a POST with `kumo-event-type: step` and the JSON body `{ input, context }`
// (the gateway's POST /v1/functions/:name/run builds it). A runtime that ran an exported `step`
// answers 200 with the header `kumo-step: 1` and `{ output, nextPath }`; when the step threw, a 500
// with `kumo-error: FN_004`, `kumo-step: 1` and `{ code, message, stack, nextPath }`. A function
// without a `step` export gets the event through its ordinary handler, and the gateway reads its
// response as the output (that keeps custom images and existing handlers usable as steps).

/** The event type (header kumo-event-type) of a step invocation. */
export const STEP_EVENT = "step";
/** The header a runtime marks its step envelope with. */
export const STEP_HEADER = "kumo-step";
/** The path a step takes when it returns a plain value. */
export const DEFAULT_PATH = "default";
/** The path a step takes when it throws, unless the error names another (`error.nextPath`). */
export const ERROR_PATH = "error";

const CALLER_FIELDS = ["workflowId", "runId", "stepId", "trigger", "previous", "env"];

/**
 * The step's `{ input, context }` from the invocation's body, and the context the step receives:
 * the caller's fields, then the platform's (which the caller cannot override).
 * @param {unknown} payload The parsed body.
 * @param {{ invocationId: string, function: string | undefined, version: number | string | undefined, deadline: number }} platform
 * @returns {{ input: unknown, context: Record<string, unknown> }}
 */
export function stepCall(payload, platform) {
  const body = isPlainObject(payload) ? payload : {};
  const given = isPlainObject(body.context) ? body.context : {};
  /** @type {Record<string, unknown>} */
  const context = {};
  for (const name of CALLER_FIELDS) context[name] = given[name] ?? (name === "env" ? {} : null);
  context.invocationId = platform.invocationId;
  // The gateway names the function and version in the body too; a runtime that knows them itself wins.
  context.function = platform.function || (typeof given.function === "string" ? given.function : "");
  const version = platform.version ?? given.version;
  context.version = version === undefined || version === null ? null : Number(version);
  context.deadline = platform.deadline;
  // The verified claims of the end user's JWT (the gateway verified kumo-auth-token); null without one.
  // A platform field: the gateway's step-run schema refuses an `auth` from the caller.
  context.auth = isPlainObject(given.auth) ? given.auth : null;
  context.getRemainingTimeInMillis = () => Math.max(0, platform.deadline - Date.now());
  return { input: body.input === undefined ? null : body.input, context };
}

/**
 * What a step returned, as `{ output, nextPath }`: a plain object with a string `nextPath` and no keys
 * but `output` and `nextPath` is the envelope itself; anything else is the output (undefined is null).
 * @param {unknown} value
 * @returns {{ output: unknown, nextPath: string }}
 */
export function stepOutcome(value) {
  if (isPlainObject(value) && typeof value.nextPath === "string") {
    const keys = Object.keys(value);
    if (keys.every((k) => k === "output" || k === "nextPath")) {
      return { output: value.output === undefined ? null : value.output, nextPath: value.nextPath };
    }
  }
  return { output: value === undefined ? null : value, nextPath: DEFAULT_PATH };
}

/**
 * The JSON text of a step's outcome; a value JSON cannot hold (a BigInt, a cycle) is a TypeError
 * naming the step's output, which the runtime reports as the step's failure.
 * @param {unknown} value What the step returned.
 */
export function stepOutcomeJson(value) {
  try {
    return JSON.stringify(stepOutcome(value));
  } catch (error) {
    throw new TypeError(
      `the step's output is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/**
 * The path a thrown error takes: its own string `nextPath` (the code chose a branch), else "error".
 * @param {unknown} error
 */
export function errorPath(error) {
  try {
    const path = /** @type {{ nextPath?: unknown }} */ (error)?.nextPath;
    return typeof path === "string" && path !== "" ? path : ERROR_PATH;
  } catch {
    return ERROR_PATH;
  }
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, any>}
 */
function isPlainObject(value) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
