// Handlers written for OpenFaaS's and Knative's Node templates, run from a web Request to a web
// Response, the same in the edge isolate and the node/bun/deno shim. Written from the platforms'
// documented handler contracts:
//
// OpenFaaS (node templates): `async (event, context)`. event = { body, headers, method, query, path };
//   the body is parsed JSON for application/json, a string for text, else bytes. The handler answers
//   with `context.status(code).headers(h).succeed(value)` or `.fail(err)`, or by returning a value
//   (as succeed(value)). Objects and arrays go out as JSON, strings as text, bytes as they are;
//   fail(err) is the status set (500 if none) with the error's text.
// Knative func (Node): `handle(context, body)`. context = { log, method, query, headers, body,
//   contentType, httpVersion, cloudevent }; for a CloudEvent (binary `ce-*` headers or structured
//   application/cloudevents+json) `context.cloudevent` holds it and `body` is its data. The result:
//   `{ statusCode?, headers?, body? }`, a CloudEvent (sent back in binary mode), another value as the
//   body (JSON unless a string), or nothing (204).

/**
 * The web Request parts these adapters read (the edge isolate's Request and Node's both have them).
 * @typedef {{ url: string, method: string, headers: { get(name: string): string | null, has(name: string): boolean,
 *   [Symbol.iterator](): Iterator<[string, string]> }, arrayBuffer(): Promise<ArrayBuffer> }} WebRequest
 */

/**
 * @typedef {object} BodyCodec
 * @property {(bytes: Uint8Array) => unknown} [bytes] How a binary body reaches the handler (Buffer on Node).
 */

const decoder = new TextDecoder();

async function readBody(request, codec) {
  const bytes = new Uint8Array(await request.arrayBuffer());
  const type = (request.headers.get("content-type") ?? "").toLowerCase();
  if (bytes.byteLength === 0) return { bytes, value: type.includes("json") ? undefined : "" };
  if (/^application\/([\w.+-]*\+)?json/.test(type)) {
    const text = decoder.decode(bytes);
    try {
      return { bytes, value: JSON.parse(text) };
    } catch {
      return { bytes, value: text };
    }
  }
  if (type.startsWith("text/") || type.startsWith("application/x-www-form-urlencoded") || type === "") {
    return { bytes, value: decoder.decode(bytes) };
  }
  return { bytes, value: codec.bytes ? codec.bytes(bytes) : bytes };
}

/** Query parameters as an object; a repeated name gives an array. */
function queryObject(url) {
  /** @type {Record<string, string | string[]>} */
  const query = {};
  for (const [name, value] of url.searchParams) {
    const prev = query[name];
    query[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return query;
}

function headerObject(headers) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [name, value] of headers) out[name] = value;
  return out;
}

/** A value as a Response body with its default content type. */
function bodyResponse(value, status, headers) {
  const out = new Headers();
  for (const [name, v] of Object.entries(headers ?? {})) if (v != null) out.set(name, String(v));
  if (value === undefined || value === null) return new Response(null, { status, headers: out });
  let body;
  let type;
  if (typeof value === "string") [body, type] = [value, "text/plain; charset=utf-8"];
  else if (value instanceof Uint8Array || value instanceof ArrayBuffer)
    [body, type] = [value, "application/octet-stream"];
  else [body, type] = [JSON.stringify(value), "application/json"];
  if (!out.has("content-type")) out.set("content-type", type);
  return new Response(body, { status, headers: out });
}

/**
 * @param {Function} handler `(event, context)` as OpenFaaS's node templates call it.
 * @param {WebRequest} request
 * @param {BodyCodec} [codec]
 * @returns {Promise<Response>}
 */
export async function runOpenFaas(handler, request, codec = {}) {
  const url = new URL(request.url);
  const { value } = await readBody(request, codec);
  const event = {
    body: value,
    headers: headerObject(request.headers),
    method: request.method,
    query: queryObject(url),
    path: url.pathname,
  };
  let statusCode;
  let headerValues = {};
  let settle;
  const answered = new Promise((resolve) => {
    settle = resolve;
  });
  const context = {
    status(code) {
      if (code === undefined) return statusCode ?? 200;
      statusCode = Number(code);
      return context;
    },
    headers(values) {
      if (values === undefined) return headerValues;
      headerValues = values ?? {};
      return context;
    },
    succeed(result) {
      settle({ ok: true, result });
    },
    fail(error) {
      settle({ ok: false, error });
    },
  };
  const returned = Promise.resolve()
    .then(() =>
      handler(event, context, (error, result) => settle(error ? { ok: false, error } : { ok: true, result })),
    )
    .then(
      (result) => ({ ok: true, result }),
      (error) => ({ ok: false, error }),
    );
  // Whichever comes first: an explicit succeed/fail, or the handler's own result.
  const outcome = await Promise.race([answered, returned]);
  if (outcome.ok) return bodyResponse(outcome.result, statusCode ?? 200, headerValues);
  const error = outcome.error;
  const text =
    error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error);
  return bodyResponse(text ?? "error", statusCode && statusCode >= 400 ? statusCode : 500, headerValues);
}

const CE_ATTRIBUTES = ["id", "source", "type", "specversion", "subject", "time", "dataschema"];

/**
 * @param {Function} handle `handle(context, body)` as Knative func's Node runtime calls it.
 * @param {WebRequest} request
 * @param {BodyCodec} [codec]
 * @returns {Promise<Response>}
 */
export async function runKnative(handle, request, codec = {}) {
  const url = new URL(request.url);
  const contentType = request.headers.get("content-type") ?? "";
  let { value: body } = await readBody(request, codec);
  let cloudevent;
  if (request.headers.has("ce-id") && request.headers.has("ce-type")) {
    cloudevent = { datacontenttype: contentType || undefined, data: body };
    for (const name of CE_ATTRIBUTES) {
      const v = request.headers.get(`ce-${name}`);
      if (v !== null) cloudevent[name] = v;
    }
  } else if (
    contentType.toLowerCase().startsWith("application/cloudevents+json") &&
    body &&
    typeof body === "object"
  ) {
    cloudevent = body;
    body = cloudevent.data;
  }
  const log = Object.fromEntries(
    ["trace", "debug", "info", "warn", "error", "fatal"].map((level) => [
      level,
      (...args) => console[level === "fatal" ? "error" : level === "trace" ? "debug" : level](...args),
    ]),
  );
  const context = {
    log,
    method: request.method,
    query: queryObject(url),
    headers: headerObject(request.headers),
    body,
    contentType,
    httpVersion: "1.1",
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    cloudevent,
  };
  const result = await handle(context, body);
  if (result === undefined || result === null) return new Response(null, { status: 204 });
  if (typeof result === "object" && "specversion" in result && "type" in result && "source" in result) {
    const headers = new Headers();
    for (const name of CE_ATTRIBUTES)
      if (result[name] != null) headers.set(`ce-${name}`, String(result[name]));
    if (!headers.has("ce-id")) headers.set("ce-id", crypto.randomUUID());
    return bodyResponse(result.data, 200, {
      ...Object.fromEntries(headers),
      ...(result.datacontenttype ? { "content-type": result.datacontenttype } : {}),
    });
  }
  if (typeof result === "object" && ("statusCode" in result || "headers" in result || "body" in result)) {
    return bodyResponse(result.body, Number(result.statusCode ?? 200), result.headers);
  }
  return bodyResponse(result, 200, undefined);
}
