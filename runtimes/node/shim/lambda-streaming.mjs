// Lambda response streaming as AWS documents it for Node.js: a global `awslambda` whose
// `streamifyResponse(async (event, responseStream, context) => ...)` marks a handler, and
// `awslambda.HttpResponseStream.from(responseStream, { statusCode, headers, cookies })` that sets the
// HTTP status and headers before the first byte. The responseStream is a node Writable (so
// `pipeline(source, responseStream)` works); each write goes to the caller as it is made.
// node, bun and deno load this same file; node:stream is imported only when a streamed invocation
// runs (on Deno that starts its Node layer, which a plain invocation never needs).
import { lambdaStatus } from "../../shared/lambda-result.mjs";

const STREAMING = Symbol.for("kumo.lambda.streamifyResponse");
const PRELUDE = Symbol("kumo.lambda.prelude");

/** Defines globalThis.awslambda (unless the code brings its own) before the function's module loads. */
export function defineAwsLambdaGlobal() {
  if (globalThis.awslambda !== undefined) return;
  Object.defineProperty(globalThis, "awslambda", {
    value: Object.freeze({ streamifyResponse, HttpResponseStream }),
    configurable: true,
    writable: true,
  });
}

/**
 * @param {(event: unknown, responseStream: any, context: unknown) => unknown} handler
 */
function streamifyResponse(handler) {
  if (typeof handler !== "function") throw new TypeError("awslambda.streamifyResponse needs a function");
  const streamed = (event, responseStream, context) => handler(event, responseStream, context);
  Object.defineProperty(streamed, STREAMING, { value: true });
  return streamed;
}

const HttpResponseStream = {
  /**
   * @param {any} stream The responseStream the handler was given.
   * @param {{ statusCode?: number | string, headers?: Record<string, unknown>, cookies?: string[] }} prelude
   */
  from(stream, prelude) {
    if (typeof stream?.[PRELUDE] !== "function")
      throw new TypeError("HttpResponseStream.from needs the responseStream the handler was given");
    stream[PRELUDE](prelude ?? {});
    return stream;
  },
};

/** Whether a handler was made by awslambda.streamifyResponse. */
export const isStreamingHandler = (target) => typeof target === "function" && target[STREAMING] === true;

/**
 * Runs a streaming handler: the status and headers go out with the first write (or at the end), each
 * chunk as it is written. Resolves once the stream has ended; ending it is the handler's job, and a
 * handler that returns without doing so has it ended for it.
 * @param {Function} target
 * @param {unknown} event
 * @param {unknown} context
 * @param {{ writeHead: Function, write: Function, end: Function, once?: Function }} res
 */
export async function invokeStreaming(target, event, context, res) {
  const { Writable } = await import("node:stream");
  const { finished } = await import("node:stream/promises");
  /** @type {{ statusCode?: number | string, headers?: Record<string, unknown>, cookies?: string[] }} */
  let prelude = {};
  let contentType;
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    /** @type {Record<string, string | string[]>} */
    const headers = {};
    for (const [name, value] of Object.entries(prelude.headers ?? {}))
      if (value != null) headers[name.toLowerCase()] = String(value);
    if (Array.isArray(prelude.cookies) && prelude.cookies.length > 0)
      headers["set-cookie"] = prelude.cookies.map(String);
    if (contentType) headers["content-type"] = contentType;
    // Lambda's default for a streamed response without a content type.
    headers["content-type"] ??= "application/octet-stream";
    res.writeHead(lambdaStatus(prelude.statusCode), headers);
  };
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      try {
        start();
        if (res.write(chunk) !== false || typeof res.once !== "function") callback();
        else res.once("drain", () => callback());
      } catch (err) {
        callback(err);
      }
    },
    final(callback) {
      try {
        start();
        res.end();
        callback();
      } catch (err) {
        callback(err);
      }
    },
  });
  Object.defineProperty(stream, PRELUDE, {
    value: (value) => {
      if (started) throw new Error("HttpResponseStream.from must come before the first write");
      prelude = value;
    },
  });
  // The AWS runtime's responseStream has it too (the content type of a stream without a prelude).
  Object.defineProperty(stream, "setContentType", {
    value: (type) => {
      contentType = String(type);
    },
  });
  await target(event, stream, context);
  if (!stream.writableEnded) stream.end();
  await finished(stream);
}
