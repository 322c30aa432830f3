// Runs one invocation against a loaded handler and writes the function's response.
// Workers shape: fetch(Request, env, ctx) -> Response. Lambda shape: handler(event, context) where an
// HTTP event is API-Gateway-v2-like and the result is {statusCode, headers, body, isBase64Encoded},
// a string, or any JSON value. Event invocations (header kumo-event-type) pass the JSON event as is.
// Web shapes (a default-exported (request, context) function, a Deno.serve handler) get a Request
// and answer a Response (anything else by the Lambda result rules); OpenFaaS and Knative handlers
// run through runtimes/shared/foreign-handlers.mjs; Node (req, res) shapes through their loopback
// server (node-http-handler.mjs).
// The Lambda event, context and result rules are shared with the edge runtime (runtimes/shared,
// copied next to this folder in the runtime images).
import { serveInfo } from "../../shared/deno-serve.mjs";
import { runKnative, runOpenFaas } from "../../shared/foreign-handlers.mjs";
import { lambdaContext } from "../../shared/lambda-context.mjs";
import { lambdaEventPayload, lambdaHttpEvent } from "../../shared/lambda-event.mjs";
import { finalStatus, lambdaResponse } from "../../shared/lambda-result.mjs";
import { errorPath, STEP_EVENT, STEP_HEADER, stepCall, stepOutcomeJson } from "../../shared/step.mjs";
import { invokeStreaming, isStreamingHandler } from "./lambda-streaming.mjs";
import { emit, invocationScope } from "./logs.mjs";

/** Base64 of bodies through Buffer (on Deno it is first touched by readBody, after listening). */
const base64 = {
  toBase64: (/** @type {Uint8Array} */ bytes) =>
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"),
  fromBase64: (/** @type {string} */ text) => Buffer.from(text, "base64"),
};

/**
 * @param {{ kind: string, target: any, step?: Function, run?: Function }} handler
 * @param {{ method: string, path: string, headers: Record<string, string | string[]>, body: Buffer,
 *   invocationId: string, deadline: number, eventType: string | undefined }} inv
 * @param {import("node:http").ServerResponse} res
 */
export async function invoke(handler, inv, res) {
  if (handler.step && inv.eventType === STEP_EVENT) return invokeStep(handler.step, inv, res);
  if (handler.kind === "step") {
    throw new TypeError(
      "this function exports only step(input, context): call it as a workflow step (POST /v1/functions/:name/run)",
    );
  }
  switch (handler.kind) {
    case "workers":
      return invokeWorkers(handler.target, inv, res);
    case "web":
    case "deno-serve":
      return invokeWeb(handler, inv, res);
    case "openfaas":
      return writeResponse(await runOpenFaas(handler.target, webRequest(inv), bufferBodies), res);
    case "knative":
      return writeResponse(await runKnative(handler.target, webRequest(inv), bufferBodies), res);
    case "node-http":
    case "node-app":
      return handler.run(inv, res);
    default:
      return invokeLambda(handler.target, inv, res);
  }
}

/** OpenFaaS and Knative handlers on Node get binary bodies as Buffer, as their templates give them. */
const bufferBodies = {
  bytes: (/** @type {Uint8Array} */ bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
};

/** The invocation as a web Request. */
function webRequest(inv) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(inv.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const host = headers.get("host") || "localhost";
  const hasBody = inv.method !== "GET" && inv.method !== "HEAD";
  return new Request(`http://${host}${inv.path}`, {
    method: inv.method,
    headers,
    body: hasBody ? inv.body : undefined,
  });
}

/**
 * A default-exported web handler gets (request, context): Netlify's and Vercel's context is an
 * object with waitUntil, here also the env. A Deno.serve handler gets (request, info).
 */
async function invokeWeb(handler, inv, res) {
  const pending = [];
  const waitUntil = (promise) => pending.push(Promise.resolve(promise).catch(() => {}));
  const request = webRequest(inv);
  const second =
    handler.kind === "deno-serve"
      ? serveInfo(headerValue(inv.headers["x-forwarded-for"])?.split(",")[0]?.trim())
      : { env: process.env, waitUntil, invocationId: inv.invocationId, deadline: inv.deadline };
  const result = await handler.target(request, second);
  if (typeof result?.arrayBuffer === "function" && result instanceof Response)
    await writeResponse(result, res);
  else writeLambdaResponse(lambdaResponse(result, base64), res);
  await Promise.all(pending);
}

async function invokeWorkers(target, inv, res) {
  const request = webRequest(inv);
  const pending = [];
  const ctx = {
    invocationId: inv.invocationId,
    deadline: inv.deadline,
    waitUntil: (promise) => pending.push(Promise.resolve(promise).catch(() => {})),
    passThroughOnException: () => {},
  };
  const response = await target.fetch(request, process.env, ctx);
  if (!(response instanceof Response)) throw new TypeError("fetch() must return a Response");
  await writeResponse(response, res);
  await Promise.all(pending);
}

/**
 * A workflow step: `{ input, context }` in, `{ output, nextPath, logs }` out; a throw is answered here
 * (500, kumo-error FN_004) with the path it takes, so the gateway can route the workflow's error branch.
 * The invocation's log lines travel in the answer too: a container's stdout reaches the platform apart.
 */
async function invokeStep(step, inv, res) {
  const scope = invocationScope.getStore();
  const logs = [];
  if (scope) scope.lines = logs;
  const { input, context } = stepCall(lambdaEventPayload(inv.body), {
    invocationId: inv.invocationId,
    function: process.env.KUMO_FUNCTION_NAME ?? "",
    version: process.env.KUMO_FUNCTION_VERSION,
    deadline: inv.deadline,
  });
  let text;
  try {
    text = stepOutcomeJson(await step(input, context));
  } catch (err) {
    emit("error", `step threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    const body = JSON.stringify({
      code: "FN_004",
      message: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
      nextPath: errorPath(err),
      logs,
    });
    res.writeHead(500, { "content-type": "application/json", "kumo-error": "FN_004", [STEP_HEADER]: "1" });
    res.end(body);
    return;
  }
  // The outcome's JSON with the logs added, without parsing it back.
  const body = `${text.slice(0, -1)},"logs":${JSON.stringify(logs)}}`;
  res.writeHead(200, { "content-type": "application/json", [STEP_HEADER]: "1" });
  res.end(body);
}

/**
 * @param {Response} response
 * @param {import("node:http").ServerResponse} res
 */
async function writeResponse(response, res) {
  /** @type {Record<string, string | string[]>} */
  const out = {};
  for (const [name, value] of response.headers) if (name !== "set-cookie") out[name] = value;
  const cookies = response.headers.getSetCookie?.() ?? [];
  if (cookies.length > 0) out["set-cookie"] = cookies;
  await writeBody(response, out, res);
}

/** Bodies up to this size that are complete at once go out in one write with their length. */
const WHOLE_BODY_MAX = 1024 * 1024;
const TURN = Symbol("turn");
const nextTurn = globalThis.setImmediate ?? ((fn) => setTimeout(fn, 0));

/**
 * A body the Response already holds (a string, bytes, anything produced without waiting) is read
 * within this event-loop turn and written at once with a content-length: one write here, and the
 * autoscaler forwards it as one frame without waiting to see whether it ends. A body still being
 * produced after this turn (SSE, a piped stream) is written chunk by chunk as it comes.
 */
async function writeBody(response, headers, res) {
  if (!response.body) {
    res.writeHead(finalStatus(response.status, "status"), headers).end();
    return;
  }
  const reader = response.body.getReader();
  const turn = new Promise((resolve) => nextTurn(() => resolve(TURN)));
  const chunks = [];
  let size = 0;
  let read = reader.read();
  let ended = false;
  while (size <= WHOLE_BODY_MAX) {
    const r = await Promise.race([read, turn]);
    if (r === TURN) break;
    if (r.done) {
      ended = true;
      break;
    }
    chunks.push(r.value);
    size += r.value.byteLength;
    read = reader.read();
  }
  const status = finalStatus(response.status, "status");
  if (ended) {
    if (status !== 204 && status !== 304) headers["content-length"] = String(size);
    else delete headers["content-length"];
    res.writeHead(status, headers);
    res.end(chunks.length === 1 ? chunks[0] : concat(chunks, size));
    return;
  }
  delete headers["content-length"];
  res.writeHead(status, headers);
  for (const chunk of chunks) res.write(chunk);
  for (let r = await read; !r.done; r = await reader.read()) res.write(r.value);
  res.end();
}

/** Joins byte chunks without Buffer (on Deno, Buffer would start its Node layer). */
function concat(chunks, size) {
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

async function invokeLambda(target, inv, res) {
  const event = inv.eventType
    ? lambdaEventPayload(inv.body)
    : lambdaHttpEvent(
        {
          method: inv.method,
          url: inv.path,
          headers: inv.headers,
          body: inv.body,
          requestId: inv.invocationId,
          timeEpoch: Date.now(),
        },
        base64,
      );
  const pending = [];
  const context = lambdaContext({
    invocationId: inv.invocationId,
    functionName: process.env.KUMO_FUNCTION_NAME ?? "",
    deadline: inv.deadline,
    eventType: inv.eventType,
    traceparent: headerValue(inv.headers.traceparent),
    authClaims: headerValue(inv.headers["kumo-auth-claims"]),
    env: process.env,
    waitUntil: (promise) => pending.push(Promise.resolve(promise).catch(() => {})),
  });
  if (isStreamingHandler(target)) {
    await invokeStreaming(target, event, context, res);
    await Promise.all(pending);
    return;
  }
  const result = await target(event, context);
  // Checked by shape first: on Node the Response global loads undici on first use (see warmItself in main.mjs).
  if (typeof result?.arrayBuffer === "function" && result instanceof Response)
    await writeResponse(result, res);
  else writeLambdaResponse(lambdaResponse(result, base64), res);
  await Promise.all(pending);
}

/**
 * @param {import("../../shared/lambda-result.mjs").LambdaResponse} response
 * @param {import("node:http").ServerResponse} res
 */
function writeLambdaResponse({ status, headers, body }, res) {
  /** @type {Record<string, string | string[]>} */
  const out = {};
  for (const [name, value] of headers) {
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  res.writeHead(status, out);
  if (body === null || status === 204 || status === 304) res.end();
  else res.end(body);
}

function headerValue(value) {
  return Array.isArray(value) ? value[0] : value;
}
