// The `event` a Lambda-style handler(event, context) receives, built the same way by every JS
// runtime: the edge isolate bootstrap bundles this file, the node/bun/deno shim imports it (the
// runtime images copy this folder to /opt/kumo/shared). Plain JS, no imports, no host globals but
// TextDecoder, so it runs in a bare V8 isolate as in Node, Bun and Deno. The Python shim builds the
// same event in Python (runtimes/python/shim/kumo_shim.py): keep the two in step.
//
// HTTP invocations get API Gateway's HTTP API event, payload format 2.0, as AWS builds it: repeated
// query values and repeated headers joined with commas, the cookie header split into `cookies`,
// text bodies as UTF-8 and any other body base64 (`isBase64Encoded`).

/** Content types whose bodies travel as text. */
const TEXT_TYPE = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** @type {{ decode(bytes: Uint8Array): string } | undefined} */
let decoder;

/**
 * The decoder is created on first use: in the isolate, TextDecoder is a global the bootstrap
 * installs before any invocation.
 * @param {Uint8Array} bytes
 */
function decodeUtf8(bytes) {
  decoder ??= new TextDecoder();
  return decoder.decode(bytes);
}

/**
 * One HTTP request as the runtimes hold it.
 * @typedef {object} LambdaHttpRequest
 * @property {string} method
 * @property {string} url The path after the function prefix with its query ("/items?a=1"), or an
 *   absolute URL (its origin is dropped).
 * @property {Iterable<readonly [string, string]> | Record<string, string | string[] | undefined>} headers
 *   Name/value pairs, or node's IncomingMessage.headers.
 * @property {Uint8Array | null | undefined} body
 * @property {string} requestId The invocation id.
 * @property {number} timeEpoch When the invocation started, epoch ms.
 */

/**
 * @typedef {object} Base64Encoder
 * @property {(bytes: Uint8Array) => string} toBase64
 */

/**
 * The API-Gateway-v2 event of an HTTP invocation.
 * @param {LambdaHttpRequest} request
 * @param {Base64Encoder} codec Base64 for binary bodies (Buffer in the shim, a JS encoder in the isolate).
 */
export function lambdaHttpEvent(request, codec) {
  const { path, query } = splitUrl(request.url);
  const headers = eventHeaders(request.headers);
  const cookie = headers.cookie;
  const host = headers.host ?? "";
  const body = request.body;
  const hasBody = body != null && body.length > 0;
  const text = hasBody && isTextBody(headers["content-type"], body);
  /** @type {Record<string, unknown>} */
  const event = { version: "2.0", routeKey: "$default", rawPath: path, rawQueryString: query };
  if (cookie) event.cookies = cookie.split(/;\s*/).filter((c) => c !== "");
  event.headers = headers;
  const params = query === "" ? null : queryParameters(query);
  if (params) event.queryStringParameters = params;
  event.requestContext = {
    domainName: host.replace(/:\d+$/, ""),
    http: {
      method: request.method,
      path,
      protocol: "HTTP/1.1",
      sourceIp: (headers["x-forwarded-for"] ?? "").split(",")[0]?.trim() ?? "",
      userAgent: headers["user-agent"] ?? "",
    },
    requestId: request.requestId,
    routeKey: "$default",
    stage: "$default",
    time: clfTime(request.timeEpoch),
    timeEpoch: request.timeEpoch,
  };
  if (hasBody) event.body = text ? decodeUtf8(body) : codec.toBase64(body);
  event.isBase64Encoded = hasBody && !text;
  return event;
}

/**
 * The event of a non-HTTP invocation (cron, queue, database, event triggers): the body parsed as
 * JSON, the body as text when it is not JSON, null when there is none.
 * @param {Uint8Array | null | undefined} body
 * @returns {unknown}
 */
export function lambdaEventPayload(body) {
  if (body == null || body.length === 0) return null;
  const text = decodeUtf8(body);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A body is text when its content type says so; without a content type, when it is valid UTF-8
 * (anything else would not survive decoding, so it goes base64).
 * @param {string | undefined} contentType
 * @param {Uint8Array} body
 */
function isTextBody(contentType, body) {
  return contentType ? TEXT_TYPE.test(contentType) : isUtf8(body);
}

/** @param {string} url */
function splitUrl(url) {
  let start = 0;
  if (!url.startsWith("/")) {
    const scheme = url.indexOf("://");
    const slash = scheme === -1 ? -1 : url.indexOf("/", scheme + 3);
    start = slash === -1 ? url.length : slash;
  }
  const hash = url.indexOf("#", start);
  const end = hash === -1 ? url.length : hash;
  const q = url.indexOf("?", start);
  if (q === -1 || q > end) return { path: url.slice(start, end) || "/", query: "" };
  return { path: url.slice(start, q) || "/", query: url.slice(q + 1, end) };
}

/**
 * Lower-case names; a repeated header's values joined with commas (cookie with "; ", as one
 * cookie header carries them).
 * @param {LambdaHttpRequest["headers"]} input
 * @returns {Record<string, string>}
 */
function eventHeaders(input) {
  /** @type {Record<string, string>} */
  const headers = {};
  const add = (/** @type {string} */ rawName, /** @type {string} */ value) => {
    const name = rawName.toLowerCase();
    if (!Object.hasOwn(headers, name)) setOwn(headers, name, value);
    else headers[name] = `${headers[name]}${name === "cookie" ? "; " : ","}${value}`;
  };
  if (isIterable(input)) {
    for (const [name, value] of input) add(name, value);
  } else {
    for (const name of Object.keys(input)) {
      const value = input[name];
      if (Array.isArray(value)) for (const v of value) add(name, v);
      else if (value !== undefined) add(name, value);
    }
  }
  return headers;
}

/**
 * @param {LambdaHttpRequest["headers"]} value
 * @returns {value is Iterable<readonly [string, string]>}
 */
function isIterable(value) {
  return typeof (/** @type {any} */ (value)[Symbol.iterator]) === "function";
}

/**
 * Query parameters as URLSearchParams reads them, a repeated name's values joined with commas;
 * null when there are none.
 * @param {string} query
 * @returns {Record<string, string> | null}
 */
function queryParameters(query) {
  /** @type {Record<string, string> | null} */
  let params = null;
  for (const pair of query.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = decodeQueryPart(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? "" : decodeQueryPart(pair.slice(eq + 1));
    params ??= {};
    if (Object.hasOwn(params, name)) params[name] = `${params[name]},${value}`;
    else setOwn(params, name, value);
  }
  return params;
}

/**
 * application/x-www-form-urlencoded decoding: "+" is a space, %XX a byte, bytes UTF-8; a malformed
 * escape stays as written, as in URLSearchParams.
 * @param {string} part
 */
function decodeQueryPart(part) {
  const spaced = part.includes("+") ? part.replace(/\+/g, " ") : part;
  if (!spaced.includes("%")) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced.replace(/(%[0-9a-f]{2})+/gi, (run) => {
      const bytes = new Uint8Array(run.length / 3);
      for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
      return decodeUtf8(bytes);
    });
  }
}

/**
 * Sets a key even when it is "__proto__" (which would otherwise replace the prototype).
 * @param {Record<string, string>} target
 * @param {string} key
 * @param {string} value
 */
function setOwn(target, key, value) {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), as Python's decoder.
 * @param {Uint8Array} bytes
 */
function isUtf8(bytes) {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = /** @type {number} */ (bytes[i]);
    if (b < 0x80) {
      i++;
      continue;
    }
    let need = 0;
    let min = 0;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return false;
    if (i + need >= n) return false;
    let code = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = /** @type {number} */ (bytes[i + k]);
      if ((c & 0xc0) !== 0x80) return false;
      code = (code << 6) | (c & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

/**
 * requestContext.time as API Gateway writes it: "12/Mar/2020:19:03:58 +0000".
 * @param {number} epochMs
 */
function clfTime(epochMs) {
  const d = new Date(epochMs);
  const two = (/** @type {number} */ n) => String(n).padStart(2, "0");
  const date = `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}`;
  return `${date}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}
