// Runs one invocation against a loaded handler and writes the function's response.
// Workers shape: fetch(Request, env, ctx) -> Response. Lambda shape: handler(event, context) where an
// HTTP event is API-Gateway-v2-like and the result is {statusCode, headers, body, isBase64Encoded},
// a string, or any JSON value. Event invocations (header kumo-event-type) pass the JSON event as is.

const textTypes = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

/**
 * @param {{ kind: string, target: any }} handler
 * @param {{ method: string, path: string, headers: Record<string, string | string[]>, body: Buffer,
 *   invocationId: string, deadline: number, eventType: string | undefined }} inv
 * @param {import("node:http").ServerResponse} res
 */
export async function invoke(handler, inv, res) {
  if (handler.kind === "workers") return invokeWorkers(handler.target, inv, res);
  return invokeLambda(handler.target, inv, res);
}

async function invokeWorkers(target, inv, res) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(inv.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const host = headers.get("host") || "localhost";
  const hasBody = inv.method !== "GET" && inv.method !== "HEAD";
  const request = new Request(`http://${host}${inv.path}`, {
    method: inv.method,
    headers,
    body: hasBody ? inv.body : undefined,
  });
  const pending = [];
  const ctx = {
    invocationId: inv.invocationId,
    deadline: inv.deadline,
    waitUntil: (promise) => pending.push(Promise.resolve(promise).catch(() => {})),
    passThroughOnException: () => {},
  };
  const response = await target.fetch(request, process.env, ctx);
  if (!(response instanceof Response)) throw new TypeError("fetch() must return a Response");
  const out = {};
  for (const [name, value] of response.headers) if (name !== "set-cookie") out[name] = value;
  const cookies = response.headers.getSetCookie?.() ?? [];
  if (cookies.length > 0) out["set-cookie"] = cookies;
  await writeBody(response, out, res);
  await Promise.all(pending);
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
  const event = inv.eventType ? parseEvent(inv.body) : httpEvent(inv);
  const context = {
    awsRequestId: inv.invocationId,
    invocationId: inv.invocationId,
    functionName: process.env.KUMO_FUNCTION_NAME ?? "",
    deadline: inv.deadline,
    eventType: inv.eventType,
    traceparent: headerValue(inv.headers.traceparent),
    getRemainingTimeInMillis: () => Math.max(0, inv.deadline - Date.now()),
    callbackWaitsForEmptyEventLoop: false,
  };
  const result = await target(event, context);
  writeLambdaResult(result, res);
}

function parseEvent(body) {
  if (body.length === 0) return null;
  return JSON.parse(body.toString("utf8"));
}

function httpEvent(inv) {
  const q = inv.path.indexOf("?");
  const rawPath = q === -1 ? inv.path : inv.path.slice(0, q);
  const rawQueryString = q === -1 ? "" : inv.path.slice(q + 1);
  const headers = {};
  for (const [name, value] of Object.entries(inv.headers)) {
    headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const queryStringParameters = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[k] = k in queryStringParameters ? `${queryStringParameters[k]},${v}` : v;
  }
  const isText = textTypes.test(headers["content-type"] ?? "");
  const event = {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    cookies: headers.cookie ? headers.cookie.split(/;\s*/) : undefined,
    headers,
    queryStringParameters: rawQueryString ? queryStringParameters : undefined,
    requestContext: {
      requestId: inv.invocationId,
      timeEpoch: Date.now(),
      http: {
        method: inv.method,
        path: rawPath,
        protocol: "HTTP/1.1",
        userAgent: headers["user-agent"] ?? "",
      },
    },
    isBase64Encoded: inv.body.length > 0 && !isText,
  };
  if (inv.body.length > 0) event.body = inv.body.toString(isText ? "utf8" : "base64");
  return event;
}

function writeLambdaResult(result, res) {
  if (result === undefined || result === null) {
    res.writeHead(204).end();
  } else if (typeof result === "string") {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(result);
  } else if (typeof result === "object" && "statusCode" in result) {
    const status = lambdaStatus(result.statusCode);
    const headers = { ...result.headers };
    if (Array.isArray(result.cookies) && result.cookies.length > 0) headers["set-cookie"] = result.cookies;
    let body = result.body ?? "";
    if (typeof body !== "string") {
      body = JSON.stringify(body);
      headers["content-type"] ??= "application/json";
    }
    res.writeHead(status, headers);
    res.end(result.isBase64Encoded ? Buffer.from(body, "base64") : body);
  } else {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
  }
}

function headerValue(value) {
  return Array.isArray(value) ? value[0] : value;
}

/** A Lambda statusCode: absent is 200, and a three-digit string counts, as in the edge runtime. */
function lambdaStatus(raw) {
  if (raw == null) return 200;
  return finalStatus(typeof raw === "string" && /^[0-9]{3}$/.test(raw) ? Number(raw) : raw, "statusCode");
}

/**
 * The status as a final HTTP status (200-599), or a throw naming it (the invocation is then FN_004).
 * node:http would send 1xx as an interim response the caller keeps waiting after, 600-999 as is,
 * and round 200.5 down; the platform refuses such responses too, this only fails them early.
 */
function finalStatus(status, what) {
  if (typeof status === "number" && Number.isInteger(status) && status >= 200 && status <= 599) return status;
  const shown = typeof status === "string" ? JSON.stringify(status) : String(status);
  throw new RangeError(`${what} ${shown} is not a response status: it must be an integer from 200 to 599`);
}

/**
 * Node loads Request, Response, Headers and web streams (undici) on their first use, which made a
 * specialized stem cell's first invocation 20-40 ms slower than the rest. Run once while the shim is
 * idle, after it listens, so neither readiness nor an invocation waits for it.
 */
export async function warmUp() {
  const request = new Request("http://localhost/", {
    method: "POST",
    headers: new Headers({ "content-type": "text/plain" }),
    body: "x",
  });
  await request.arrayBuffer();
  const response = new Response("x", { status: 200, headers: { "content-type": "text/plain" } });
  for (const _ of response.headers);
  if (response.body) for await (const _ of response.body);
}
