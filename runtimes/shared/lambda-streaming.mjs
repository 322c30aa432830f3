// Lambda response streaming as AWS documents it for Node.js, shared by the container shims
// (runtimes/node/shim/lambda-streaming.mjs) and edge isolates (runtimes/edge/src/inside): the global
// `awslambda` whose `streamifyResponse(async (event, responseStream, context) => ...)` marks a
// handler, and `HttpResponseStream.from(responseStream, { statusCode, headers, cookies })` that sets
// the status and headers before the first byte. Each runtime supplies the responseStream itself.
import { lambdaStatus } from "./lambda-result.mjs";

const STREAMING = Symbol.for("kumo.lambda.streamifyResponse");
/** The responseStream's hook that takes HttpResponseStream.from's prelude. */
export const PRELUDE = Symbol("kumo.lambda.prelude");

/** @param {(event: unknown, responseStream: any, context: unknown) => unknown} handler */
function streamifyResponse(handler) {
  if (typeof handler !== "function") throw new TypeError("awslambda.streamifyResponse needs a function");
  const streamed = (event, responseStream, context) => handler(event, responseStream, context);
  Object.defineProperty(streamed, STREAMING, { value: true });
  return streamed;
}

const HttpResponseStream = Object.freeze({
  /**
   * @param {any} stream The responseStream the handler was given.
   * @param {Prelude} prelude
   */
  from(stream, prelude) {
    if (typeof stream?.[PRELUDE] !== "function")
      throw new TypeError("HttpResponseStream.from needs the responseStream the handler was given");
    stream[PRELUDE](prelude ?? {});
    return stream;
  },
});

/** The `awslambda` global's value. */
export const awsLambda = Object.freeze({ streamifyResponse, HttpResponseStream });

/** Whether a handler was made by awslambda.streamifyResponse. */
export const isStreamingHandler = (target) => typeof target === "function" && target[STREAMING] === true;

/** @typedef {{ statusCode?: number | string, headers?: Record<string, unknown>, cookies?: string[] }} Prelude */

/**
 * The status and header pairs (lower-case names, one pair per cookie) a streamed response starts
 * with: the prelude's, then `setContentType`'s, and Lambda's application/octet-stream otherwise.
 * @param {Prelude} prelude
 * @param {string | undefined} contentType
 * @returns {{ status: number, headers: [string, string][] }}
 */
export function streamedHead(prelude, contentType) {
  /** @type {Map<string, string>} */
  const single = new Map();
  for (const [name, value] of Object.entries(prelude.headers ?? {}))
    if (value != null) single.set(name.toLowerCase(), String(value));
  if (contentType) single.set("content-type", contentType);
  if (!single.has("content-type")) single.set("content-type", "application/octet-stream");
  /** @type {[string, string][]} */
  const headers = [...single];
  if (Array.isArray(prelude.cookies))
    for (const cookie of prelude.cookies) headers.push(["set-cookie", String(cookie)]);
  return { status: lambdaStatus(prelude.statusCode), headers };
}
