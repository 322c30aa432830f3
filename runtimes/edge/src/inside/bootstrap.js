// The bootstrap evaluated in every new isolate before tenant code. It receives the host's callbacks
// on `globalThis.__kumo_host`, captures them in closures and deletes the global, installs the web
// platform, and completes with the internal object the host keeps references to (never a global).
import "fast-text-encoding";
import structuredCloneImpl from "@ungap/structured-clone";
import { capturingServe, serveInfo } from "../../../shared/deno-serve.mjs";
import { runKnative, runOpenFaas } from "../../../shared/foreign-handlers.mjs";
import {
  acceptedShapes,
  detectShape,
  NODE_ONLY_SHAPES,
  noShapeError,
} from "../../../shared/handler-shape.mjs";
import { lambdaContext } from "../../../shared/lambda-context.mjs";
import { lambdaEventPayload, lambdaHttpEvent } from "../../../shared/lambda-event.mjs";
import { finalStatus, lambdaResponse } from "../../../shared/lambda-result.mjs";
import { errorPath, STEP_EVENT, STEP_HEADER, stepCall, stepOutcomeJson } from "../../../shared/step.mjs";
import { atob, base64ToBytes, btoa, bytesToBase64 } from "./base64.js";
import { createConsole } from "./console.js";
import { flatHeaders, Headers, headerPairs, Request, Response, requestFromHost } from "./fetch-api.js";
import { defineAwsLambda, isStreamingHandler, runStreaming } from "./lambda-streaming.js";
import { createCrypto } from "./web-crypto.js";
import { defineWebPlatform } from "./web-platform.js";

const host = globalThis.__kumo_host;
delete globalThis.__kumo_host;

const LOG_LINE_BYTES = 8 * 1024;
const FUNCTION_FILE = "kumo:fn/";

// --- globals -------------------------------------------------------------------------------------

let urlModule = null;
// whatwg-url is evaluated on first use (or while a spare isolate is prepared), not in every isolate.
const loadUrl = () => (urlModule ??= require("whatwg-url"));

function defineGlobal(name, value) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

function defineLazyGlobal(name, get) {
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get() {
      const value = get();
      // Undefined while its module is still loading (see web-platform.js): asked again later.
      if (value !== undefined) defineGlobal(name, value);
      return value;
    },
    set(value) {
      defineGlobal(name, value);
    },
  });
}

defineLazyGlobal("URL", () => loadUrl().URL);
defineLazyGlobal("URLSearchParams", () => loadUrl().URLSearchParams);

const { crypto, CryptoKey, DOMException } = createCrypto(host, (method, args) => callSubtle(method, args));
defineGlobal("crypto", crypto);
defineGlobal("CryptoKey", CryptoKey);
defineGlobal("DOMException", DOMException);
defineGlobal("atob", atob);
defineGlobal("btoa", btoa);
defineGlobal("Headers", Headers);
defineGlobal("Request", Request);
defineGlobal("Response", Response);
defineGlobal("structuredClone", (value, options) => structuredCloneImpl(value, options));
defineGlobal("queueMicrotask", (callback) => {
  Promise.resolve()
    .then(() => callback())
    .catch((error) => writeLog("error", `Uncaught exception in microtask: ${error?.stack ?? error}`));
});
defineGlobal("self", globalThis);
defineWebPlatform(defineGlobal, defineLazyGlobal);
defineAwsLambda(defineGlobal);

// --- invocations and logs ------------------------------------------------------------------------

// A bare isolate has no async context, but every piece of tenant code runs inside one entry from
// the host (an invocation's start, a timer, a fetch result), and V8 drains the microtasks an entry
// queued before the entry returns. So each entry sets `current` to the invocation it belongs to and
// leaves it set: the continuations that run in its drain (code after an `await`) are that
// invocation's. The host starts one invocation per entry for the same reason. Only a promise shared
// between invocations (a module-level cache awaited by several) resumes them in one drain.
const active = new Map();
let current = null;
let limits = { maxLogLines: 200, maxLogBytes: 64 * 1024, maxTimers: 1000, maxSubrequests: 50 };

function activeInvocation() {
  if (current && active.has(current.id)) return current;
  // Code of an invocation that has answered (a promise it left floating): the only active one is a
  // safe guess, several are not.
  return active.size === 1 ? active.values().next().value : null;
}

function writeLog(level, message) {
  const inv = activeInvocation();
  if (!inv) return;
  if (inv.logCount >= limits.maxLogLines || inv.logBytes >= limits.maxLogBytes) {
    inv.logsDropped++;
    return;
  }
  const text = message.length > LOG_LINE_BYTES ? `${message.slice(0, LOG_LINE_BYTES)}… [truncated]` : message;
  inv.logCount++;
  inv.logBytes += text.length;
  (inv.responded ? inv.lateLogs : inv.logs).push([Date.now(), level, text]);
}

defineGlobal(
  "console",
  createConsole(writeLog, () => Date.now()),
);

// --- host calls with asynchronous results (fetch) ------------------------------------------------

const calls = new Map();
let callSeq = 0;

function deliver(callId, ok, value) {
  entries++;
  const call = calls.get(callId);
  if (!call) return;
  calls.delete(callId);
  current = call.inv;
  if (ok) call.resolve(value);
  else call.reject(value);
}

/** A crypto.subtle method run by the host; settles through `deliver` like a fetch. */
function callSubtle(method, args) {
  return new Promise((resolve, reject) => {
    const callId = ++callSeq;
    calls.set(callId, { inv: activeInvocation(), resolve, reject });
    host.subtle(callId, method, args);
  });
}

function fetch(input, init) {
  let request;
  try {
    request = new Request(input, init);
  } catch (error) {
    return Promise.reject(error);
  }
  const inv = activeInvocation();
  if (!inv) return Promise.reject(new TypeError("fetch() can only be called while handling a request"));
  // Only a signal that was given can abort (reading request.signal would make one).
  const signal = request._givenSignal();
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (++inv.subrequests > limits.maxSubrequests) {
    return Promise.reject(
      new TypeError(`Too many subrequests (limit ${limits.maxSubrequests} per invocation)`),
    );
  }
  return new Promise((resolve, reject) => {
    const callId = ++callSeq;
    const onAbort = () => {
      // The host's reply finds no call and is dropped.
      if (calls.delete(callId)) reject(signal.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const settle = (fn) => (value) => {
      signal?.removeEventListener("abort", onAbort);
      fn(value);
    };
    const send = () => {
      if (signal?.aborted) return;
      calls.set(callId, {
        inv,
        resolve: settle((result) => resolve(Response._fromHost(result))),
        reject: settle((value) => reject(new TypeError(value?.message ?? "fetch failed"))),
      });
      const body = request._rawBody();
      host.fetch(callId, inv.id, {
        method: request.method,
        url: request.url,
        headers: headerPairs(request.headers),
        body: body == null ? null : body,
        redirect: request.redirect,
      });
    };
    // A stream body is read to its end first: requests leave the isolate whole.
    if (request._hasStream()) request._settleBody().then(send, reject);
    else send();
  });
}
defineGlobal("fetch", fetch);

// --- timers --------------------------------------------------------------------------------------

const timers = new Map();
let timerSeq = 0;

function startTimer(callback, ms, args, repeat) {
  if (typeof callback !== "function") throw new TypeError("Timer callback must be a function");
  if (timers.size >= limits.maxTimers)
    throw new RangeError(`Too many pending timers (limit ${limits.maxTimers})`);
  const id = ++timerSeq;
  const delay = Math.max(0, Number(ms) || 0);
  timers.set(id, { callback, args, delay, repeat, inv: activeInvocation() });
  host.timer(id, delay);
  return id;
}

function clearTimer(id) {
  if (timers.delete(id)) host.clearTimer(id);
}

function fireTimer(id) {
  entries++;
  const timer = timers.get(id);
  if (!timer) return;
  if (timer.repeat) host.timer(id, timer.delay);
  else timers.delete(id);
  current = timer.inv;
  try {
    timer.callback(...timer.args);
  } catch (error) {
    writeLog("error", `Uncaught exception in timer: ${error?.stack ?? error}`);
  }
}

defineGlobal("setTimeout", (callback, ms, ...args) => startTimer(callback, ms, args, false));
defineGlobal("setInterval", (callback, ms, ...args) => startTimer(callback, Math.max(1, ms), args, true));
defineGlobal("clearTimeout", clearTimer);
defineGlobal("clearInterval", clearTimer);

// --- the tenant's module -------------------------------------------------------------------------

/** The handler shape (runtimes/shared/handler-shape.mjs) and what it calls. */
let mode = null;
let entry = null;
/** The module's `step(input, context)`, when it exports one: step invocations call it. */
let stepEntry = null;
let env = Object.freeze({});
let meta = {};

// Deno Deploy and Supabase modules call Deno.serve(handler) at the top: the handler is kept, not
// served. `Deno` has only serve and env here, so libraries that look for Deno's other APIs do not
// take the isolate for Deno.
const denoServe = capturingServe();
defineGlobal(
  "Deno",
  Object.freeze({
    serve: denoServe.serve,
    env: Object.freeze({
      get: (name) => env[name],
      has: (name) => Object.hasOwn(env, name),
      toObject: () => ({ ...env }),
    }),
  }),
);

/** Node shapes named for the edge refusal. */
const NODE_SHAPE_NAMES = {
  "node-http": "a Node (req, res) handler",
  "node-app": "an exported Node app (Express, Koa, Fastify or http.Server)",
};

/** Before the module runs: its env, so top-level code can read process.env and Deno.env. */
function prepare(envVars) {
  env = Object.freeze({ ...envVars });
  defineGlobal("process", Object.freeze({ env: Object.freeze({ ...envVars }) }));
}

/** Hash names the node:crypto layer may ask the host for (src/node-compat/crypto.js). */
const NODE_HASHES = ["md5", "sha1", "sha256", "sha384", "sha512"];
const nodeHashName = (name) => {
  if (!NODE_HASHES.includes(name)) throw new TypeError(`Digest method not supported: ${name}`);
  return name;
};
const nodeBytes = (data) => {
  if (!(data instanceof Uint8Array)) throw new TypeError("data must be a Uint8Array");
  return data.slice();
};
// Synchronous hashing for node:crypto's createHash/createHmac, which Web Crypto cannot give: the
// same host calls as crypto.subtle.digest and HMAC, with the names checked here.
Object.defineProperty(globalThis, Symbol.for("kumo.node-crypto"), {
  value: Object.freeze({
    hash: (name, data) => host.digest(nodeHashName(name), nodeBytes(data)),
    hmac: (name, key, data) => host.hmac(nodeHashName(name), nodeBytes(key), nodeBytes(data)),
  }),
  enumerable: false,
});

function install(exports, envVars, info) {
  meta = info;
  limits = { ...limits, ...info.limits };
  prepare(envVars);
  // A CommonJS entry's module.exports is its default export, as Node's import of it gives it
  // (`module.exports = async (event, context) => ...`, `module.exports = { handle }`).
  const module =
    exports && (typeof exports === "function" || typeof exports === "object") && !exports.__esModule
      ? { ...exports, default: exports }
      : (exports ?? {});
  const step =
    module.step ?? (module.default && typeof module.default === "object" ? module.default.step : undefined);
  stepEntry = typeof step === "function" ? step : null;
  // kumo.json's handlerShape; the bundler refused the shapes edge cannot run.
  const declared =
    typeof info.handlerShape === "string" && info.handlerShape !== "" ? info.handlerShape : undefined;
  const found = detectShape(module, { served: denoServe.captured(), ...(declared ? { declared } : {}) });
  if (!found) throw noShapeError("the function's module", declared ? { declared } : {}, false);
  if (NODE_ONLY_SHAPES.includes(found.shape)) {
    /** @type {TypeError & { kumoCode?: string }} */
    const error = new TypeError(
      `the module exports ${NODE_SHAPE_NAMES[found.shape]}, which needs Node's http module: edge isolates have none. Deploy it with runtime "node", "bun" or "deno", or export a web handler. Edge accepts: ${acceptedShapes(false)}`,
    );
    error.kumoCode = "FN_005";
    throw error;
  }
  mode = found.shape;
  entry = found.target;
  return mode;
}

function incomingRequest(req) {
  const empty = !req.body || req.body.length === 0 || req.method === "GET" || req.method === "HEAD";
  return requestFromHost(req.url, req.method, req.headers, empty ? null : req.body);
}

/** The host sends header names and values alternating, joined by NUL. */
function splitHeaders(flat) {
  return flat === "" ? [] : flat.split("\0");
}

/** Lambda events share their builder with the container shims (runtimes/shared). */
function lambdaEvent(req) {
  if (req.trigger !== "http" && req.trigger !== "api") return lambdaEventPayload(req.body);
  /** @type {[string, string][]} */
  const pairs = [];
  for (let i = 0; i + 1 < req.headers.length; i += 2) pairs.push([req.headers[i], req.headers[i + 1]]);
  return lambdaHttpEvent(
    {
      method: req.method,
      url: req.url,
      headers: pairs,
      body: req.body,
      requestId: req.id,
      timeEpoch: req.start,
    },
    { toBase64: bytesToBase64 },
  );
}

function headerOf(req, name) {
  for (let i = 0; i + 1 < req.headers.length; i += 2) if (req.headers[i] === name) return req.headers[i + 1];
  return undefined;
}

function tooLarge(size, max) {
  /** @type {RangeError & { kumoCode?: string }} */
  const error = new RangeError(`Response body of ${size} bytes exceeds the limit of ${max} bytes`);
  error.kumoCode = "FN_010";
  return error;
}

function checkSize(body, max) {
  if (body == null) return body;
  const size = typeof body === "string" ? body.length : body.byteLength;
  if (size > max) throw tooLarge(size, max);
  return body;
}

function toResult(value, max) {
  if (value instanceof Response) {
    return {
      status: finalStatus(value.status, "status"),
      headers: value.headers._flat(),
      body: checkSize(value._rawBody(), max),
    };
  }
  // Anything else (from either shape) as a Lambda result. A base64 body is checked against the
  // limit before it is decoded.
  const fromBase64 = (text) => base64ToBytes(checkSize(text, Math.ceil((max * 4) / 3) + 4));
  const response = lambdaResponse(value, { fromBase64 });
  return {
    status: response.status,
    headers: flatHeaders(response.headers),
    body: checkSize(response.body, max),
  };
}

function tenantStack(error) {
  const stack = typeof error?.stack === "string" ? error.stack : "";
  const lines = stack.split("\n");
  const head = lines[0] ?? "";
  const frames = lines.slice(1).filter((line) => line.includes(FUNCTION_FILE));
  return [head, ...frames].join("\n");
}

function describeError(error) {
  if (error instanceof Error || (error && typeof error === "object" && "message" in error)) {
    let message = "";
    let name = "Error";
    try {
      message = String(error.message);
      name = String(error.name ?? "Error");
    } catch {}
    return {
      name,
      message,
      stack: tenantStack(error),
      code: error.kumoCode ?? null,
      nextPath: errorPath(error),
    };
  }
  let text = "";
  try {
    text = String(error);
  } catch {
    text = "non-error value";
  }
  return { name: "Error", message: `Uncaught ${text}`, stack: "", code: null, nextPath: "error" };
}

function finish(inv) {
  if (inv.waits.length === 0) {
    active.delete(inv.id);
    return 0;
  }
  Promise.allSettled(inv.waits)
    .then(() => {
      active.delete(inv.id);
      host.waitDone(inv.id, inv.lateLogs);
    })
    .catch(() => undefined);
  return inv.waits.length;
}

/** Runs one invocation to its outcome; never rejects. */
async function run(req) {
  const inv = {
    id: req.id,
    logs: [],
    lateLogs: [],
    logCount: 0,
    logBytes: 0,
    logsDropped: 0,
    subrequests: 0,
    waits: [],
    responded: false,
  };
  active.set(inv.id, inv);
  current = inv;
  const ctx = {
    waitUntil(promise) {
      inv.waits.push(
        Promise.resolve(promise).catch((error) => writeLog("error", `waitUntil: ${error?.stack ?? error}`)),
      );
    },
    passThroughOnException() {},
  };
  /** @type {{ ok: boolean, logs?: unknown[], waits?: number } & Record<string, unknown>} */
  let outcome;
  try {
    let pending;
    if (stepEntry && headerOf(req, "kumo-event-type") === STEP_EVENT) pending = runStep(req);
    else if (mode === "step") {
      throw new TypeError(
        "this function exports only step(input, context): call it as a workflow step (POST /v1/functions/:name/run)",
      );
    } else if (mode === "workers") pending = entry.fetch(incomingRequest(req), env, ctx);
    else if (mode === "web") {
      const context = {
        env,
        waitUntil: ctx.waitUntil,
        passThroughOnException() {},
        invocationId: req.id,
        deadline: req.deadline,
      };
      pending = entry(incomingRequest(req), context);
    } else if (mode === "deno-serve") {
      pending = entry(
        incomingRequest(req),
        serveInfo(headerOf(req, "x-forwarded-for")?.split(",")[0]?.trim()),
      );
    } else if (mode === "openfaas") pending = runOpenFaas(entry, incomingRequest(req));
    else if (mode === "knative") pending = runKnative(entry, incomingRequest(req));
    else {
      const http = req.trigger === "http" || req.trigger === "api";
      const context = lambdaContext({
        invocationId: req.id,
        functionName: meta.functionName,
        functionVersion: String(meta.version),
        deadline: req.deadline,
        eventType: http ? undefined : (headerOf(req, "kumo-event-type") ?? req.trigger),
        traceparent: headerOf(req, "traceparent"),
        authClaims: headerOf(req, "kumo-auth-claims"),
        env,
        waitUntil: ctx.waitUntil,
      });
      pending = isStreamingHandler(entry)
        ? runStreaming(entry, lambdaEvent(req), context, {
            maxBody: req.maxBody,
            tooLarge,
            Response,
            Headers,
          })
        : entry(lambdaEvent(req), context);
    }
    const value = await pending;
    // A stream body is collected here: the response leaves the isolate whole, not streamed.
    if (value instanceof Response && value._hasStream()) {
      await value._settleBody(req.maxBody, (size) => tooLarge(size, req.maxBody));
    }
    outcome = { ok: true, ...toResult(value, req.maxBody) };
  } catch (error) {
    outcome = { ok: false, error: describeError(error) };
  }
  inv.responded = true;
  if (inv.logsDropped > 0)
    inv.logs.push([Date.now(), "warn", `${inv.logsDropped} log lines dropped (limit per invocation)`]);
  outcome.logs = inv.logs;
  outcome.waits = finish(inv);
  return outcome;
}

/** A workflow step: `{ input, context }` in, the `{ output, nextPath }` envelope out (runtimes/shared/step.mjs). */
async function runStep(req) {
  const { input, context } = stepCall(lambdaEventPayload(req.body), {
    invocationId: req.id,
    function: meta.functionName,
    version: meta.version,
    deadline: req.deadline,
  });
  const value = await stepEntry(input, context);
  return new Response(stepOutcomeJson(value), {
    status: 200,
    headers: { "content-type": "application/json", [STEP_HEADER]: "1" },
  });
}

// Outcomes of handlers that settled after their dispatch call but before the host asked (`take`),
// and the invocations the host waits for (`settled` callback) because they had not settled.
const outcomes = new Map();
const awaited = new Set();
/**
 * Counts entries from the host. V8 runs the microtasks a call queued when the call returns (isolates
 * default to MicrotasksPolicy::kAuto), still inside isolated-vm's timeout and before the result is
 * copied out: a handler that settles in those microtasks, i.e. while the entry count is still the
 * one its dispatch saw, fills its holder and the host gets the outcome from the same call.
 */
let entries = 0;

/**
 * The common outcome (ok, no logs, no waitUntil, a string or no body) as one string the host splits:
 * `status \n headers \n body`. A string crosses the isolate boundary without a structured copy.
 */
function pack(outcome) {
  if (outcome.ok && outcome.logs.length === 0 && outcome.waits === 0) {
    if (outcome.body == null) return `${outcome.status}\n${outcome.headers}\n`;
    if (typeof outcome.body === "string") return `${outcome.status}\n${outcome.headers}\n${outcome.body}`;
  }
  return outcome;
}

/** Starts one invocation; its holder's `value` is filled if it settles within the current entry. */
function start(id, trigger, method, url, headers, body, deadline, startedAt, maxBody) {
  const holder = { value: null };
  const at = entries;
  const req = {
    id,
    trigger,
    method,
    url,
    headers: splitHeaders(headers),
    body,
    deadline,
    start: startedAt,
    maxBody,
  };
  // run() never rejects; should reporting fail (a disposed isolate), the host's wall timer answers.
  run(req)
    .then((outcome) => {
      const value = pack(outcome);
      if (entries === at) holder.value = value;
      else if (awaited.delete(id)) host.settled(id, value);
      else outcomes.set(id, value);
    })
    .catch(() => undefined);
  return holder;
}

/**
 * Starts one invocation and returns its holder. Arguments are primitives (and the body bytes), so
 * the call needs no structured copy in. One invocation per entry keeps log attribution right: the
 * microtasks drained when this call returns are this invocation's (see `current`).
 */
function dispatch(id, trigger, method, url, headers, body, deadline, startedAt, maxBody) {
  entries++;
  return start(id, trigger, method, url, headers, body, deadline, startedAt, maxBody);
}

/** The host's follow-up when a holder came back empty: the outcome, or null to wait for it. */
function take(id) {
  entries++;
  const value = outcomes.get(id);
  if (value !== undefined) {
    outcomes.delete(id);
    return value;
  }
  awaited.add(id);
  return null;
}

function warmUp() {
  new URL("https://example.com/a?b=c").searchParams.get("b");
  new Response("x").headers.get("content-type");
}

// The completion value of this script: the host keeps references to these, tenant code never sees them.
globalThis.__kumo_internal = { install, dispatch, take, deliver, fireTimer, warmUp, prepare };
