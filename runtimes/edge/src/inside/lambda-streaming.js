// Lambda response streaming in edge isolates: the same `awslambda` global and prelude rules as the
// container shims (runtimes/shared/lambda-streaming.mjs), so a handler written for
// `awslambda.streamifyResponse(async (event, responseStream, context) => ...)` runs unmodified. An
// edge response leaves the isolate whole (as a stream body of a Response does), so what the handler
// writes reaches the caller when the stream ends, with the status and headers it set through
// `awslambda.HttpResponseStream.from`. The responseStream is a small writable without node:stream:
// write/end with callbacks, setContentType, and the 'finish'/'close'/'error' events.
import { awsLambda, PRELUDE, streamedHead } from "../../../shared/lambda-streaming.mjs";

import { base64ToBytes } from "./base64.js";

export { isStreamingHandler } from "../../../shared/lambda-streaming.mjs";

const encoder = new TextEncoder();

/** Defines globalThis.awslambda before the function's module runs. */
export function defineAwsLambda(defineGlobal) {
  defineGlobal("awslambda", awsLambda);
}

function toBytes(chunk, encoding) {
  if (typeof chunk === "string") {
    if (encoding === "base64") return base64ToBytes(chunk);
    return encoder.encode(chunk);
  }
  if (chunk instanceof Uint8Array) return chunk.slice();
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk.slice(0));
  if (ArrayBuffer.isView(chunk))
    return new Uint8Array(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength));
  throw new TypeError('The "chunk" argument must be a string, Buffer or Uint8Array');
}

/**
 * Runs a streaming handler and resolves with the Response it wrote: status and headers from the
 * prelude, the body as written. A handler that returns without ending the stream has it ended for
 * it, as on Lambda; one that ends it later (a timer) is waited for until the invocation's deadline.
 * @param {Function} target
 * @param {unknown} event
 * @param {unknown} context
 * @param {{ maxBody: number, tooLarge: (size: number, max: number) => Error, Response: any, Headers: any }} options
 */
export async function runStreaming(target, event, context, options) {
  /** @type {{ statusCode?: number | string, headers?: Record<string, unknown>, cookies?: string[] }} */
  let prelude = {};
  let contentType;
  let started = false;
  let ended = false;
  let size = 0;
  /** @type {Uint8Array[]} */
  const chunks = [];
  /** @type {Map<string, Function[]>} */
  const listeners = new Map();
  let settle;
  let fail;
  const done = new Promise((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  const emit = (name, ...args) => {
    for (const listener of [...(listeners.get(name) ?? [])]) listener.apply(stream, args);
    return (listeners.get(name)?.length ?? 0) > 0;
  };
  const on = (name, listener) => {
    const list = listeners.get(name) ?? [];
    list.push(listener);
    listeners.set(name, list);
    return stream;
  };
  const push = (chunk, encoding) => {
    if (chunk === undefined || chunk === null) return;
    const bytes = toBytes(chunk, encoding);
    size += bytes.byteLength;
    if (size > options.maxBody) throw options.tooLarge(size, options.maxBody);
    started = true;
    chunks.push(bytes);
  };
  const stream = {
    get writable() {
      return !ended;
    },
    get writableEnded() {
      return ended;
    },
    get writableFinished() {
      return ended;
    },
    write(chunk, encoding, callback) {
      const cb = typeof encoding === "function" ? encoding : callback;
      if (ended) {
        const error = new Error("write after end");
        queueMicrotask(() => cb?.(error));
        emit("error", error);
        return false;
      }
      push(chunk, typeof encoding === "string" ? encoding : undefined);
      if (typeof cb === "function") queueMicrotask(() => cb(null));
      return true;
    },
    end(chunk, encoding, callback) {
      const cb = [chunk, encoding, callback].find((a) => typeof a === "function");
      if (ended) {
        if (cb) queueMicrotask(() => cb());
        return stream;
      }
      if (typeof chunk !== "function") push(chunk, typeof encoding === "string" ? encoding : undefined);
      ended = true;
      queueMicrotask(() => {
        cb?.();
        emit("finish");
        emit("close");
        settle();
      });
      return stream;
    },
    destroy(error) {
      if (!ended) {
        ended = true;
        if (error) {
          emit("error", error);
          fail(error);
        } else settle();
        emit("close");
      }
      return stream;
    },
    setContentType(type) {
      contentType = String(type);
    },
    on,
    addListener: on,
    once(name, listener) {
      const wrapped = (...args) => {
        stream.off(name, wrapped);
        listener.apply(stream, args);
      };
      return on(name, wrapped);
    },
    off(name, listener) {
      const list = listeners.get(name) ?? [];
      const at = list.indexOf(listener);
      if (at >= 0) list.splice(at, 1);
      return stream;
    },
    removeListener(name, listener) {
      return stream.off(name, listener);
    },
    emit,
    cork() {},
    uncork() {},
  };
  Object.defineProperty(stream, PRELUDE, {
    value: (value) => {
      if (started) throw new Error("HttpResponseStream.from must come before the first write");
      prelude = value;
    },
  });
  await target(event, stream, context);
  if (!ended) stream.end();
  await done;
  const head = streamedHead(prelude, contentType);
  const headers = new options.Headers();
  for (const [name, value] of head.headers) headers.append(name, value);
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return new options.Response(body, { status: head.status, headers });
}
