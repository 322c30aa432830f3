// Lambda response streaming on node, bun and deno (the `awslambda` global and the prelude rules are
// runtimes/shared/lambda-streaming.mjs). The responseStream is a node Writable (so
// `pipeline(source, responseStream)` works); each write goes to the caller as it is made.
// node:stream is imported only when a streamed invocation runs (on Deno that starts its Node layer,
// which a plain invocation never needs).
import { awsLambda, PRELUDE, streamedHead } from "../../shared/lambda-streaming.mjs";

export { isStreamingHandler } from "../../shared/lambda-streaming.mjs";

/** Defines globalThis.awslambda (unless the code brings its own) before the function's module loads. */
export function defineAwsLambdaGlobal() {
  if (globalThis.awslambda !== undefined) return;
  Object.defineProperty(globalThis, "awslambda", { value: awsLambda, configurable: true, writable: true });
}

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
    const head = streamedHead(prelude, contentType);
    /** @type {Record<string, string | string[]>} */
    const headers = {};
    for (const [name, value] of head.headers) {
      const prev = headers[name];
      headers[name] = prev === undefined ? value : [prev, value].flat();
    }
    res.writeHead(head.status, headers);
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
