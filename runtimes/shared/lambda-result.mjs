// What a Lambda-style handler(event, context) resolves to, turned into a response the same way by
// every JS runtime (edge isolate bootstrap, node/bun/deno shim; see lambda-event.mjs for how it is
// shipped). The Python shim follows the same rules in Python (lambda_response in kumo_shim.py).
//
//   { statusCode, headers?, multiValueHeaders?, cookies?, body?, isBase64Encoded? }
//       statusCode absent is 200, a three-digit string counts; a body that is not a string is sent
//       as JSON; a body without a content-type header is application/json, as API Gateway HTTP APIs
//       and function URLs answer it; cookies become set-cookie headers
//   a string             200 application/json, the string as the body (as Lambda does)
//   a Uint8Array         200 application/octet-stream
//   null or undefined    204
//   any other value      200 JSON

/**
 * @typedef {object} LambdaResponse
 * @property {number} status A final status, 200-599.
 * @property {[string, string][]} headers Lower-case names; one pair per value (set-cookie repeats).
 * @property {string | Uint8Array | null} body
 */

/**
 * @typedef {object} Base64Decoder
 * @property {(text: string) => Uint8Array} fromBase64 Only called with text that is base64.
 */

const NOT_BASE64 = /[^A-Za-z0-9+/=\t\n\f\r ]/;
const PADDING = /^[=\t\n\f\r ]*$/;

/**
 * @param {unknown} value
 * @param {Base64Decoder} codec
 * @returns {LambdaResponse}
 */
export function lambdaResponse(value, codec) {
  if (value === undefined || value === null) return { status: 204, headers: [], body: null };
  if (typeof value === "string") {
    return { status: 200, headers: [["content-type", "application/json"]], body: value };
  }
  if (value instanceof Uint8Array) {
    return { status: 200, headers: [["content-type", "application/octet-stream"]], body: value };
  }
  if (typeof value === "object" && "statusCode" in value) return fromResultObject(value, codec);
  const json = JSON.stringify(value);
  return { status: 200, headers: [["content-type", "application/json"]], body: json ?? "null" };
}

/**
 * @param {Record<string, any>} value
 * @param {Base64Decoder} codec
 * @returns {LambdaResponse}
 */
function fromResultObject(value, codec) {
  const status = lambdaStatus(value.statusCode);
  /** @type {[string, string][]} */
  const headers = [];
  for (const [name, v] of Object.entries(value.headers ?? {})) {
    if (v != null) headers.push([name.toLowerCase(), String(v)]);
  }
  for (const [name, list] of Object.entries(value.multiValueHeaders ?? {})) {
    for (const v of Array.isArray(list) ? list : [list]) {
      if (v != null) headers.push([name.toLowerCase(), String(v)]);
    }
  }
  if (Array.isArray(value.cookies)) for (const c of value.cookies) headers.push(["set-cookie", String(c)]);
  let body = value.body;
  if (body == null) body = null;
  else if (typeof body !== "string") body = JSON.stringify(body) ?? null;
  else if (value.isBase64Encoded) {
    if (!isBase64(body)) throw new TypeError("the result's body is not base64, but isBase64Encoded is true");
    body = codec.fromBase64(body);
  }
  if (body !== null && !headers.some(([name]) => name === "content-type"))
    headers.push(["content-type", "application/json"]);
  return { status, headers, body };
}

/**
 * Standard base64, padded or not, ASCII whitespace ignored (as atob and Buffer ignore it). Two
 * linear scans: a single pattern for this backtracks badly on megabytes of text.
 * @param {string} text
 */
function isBase64(text) {
  if (NOT_BASE64.test(text)) return false;
  const pad = text.indexOf("=");
  if (pad === -1) return true;
  const tail = text.slice(pad);
  return PADDING.test(tail) && tail.split("=").length <= 3;
}

/**
 * A Lambda result's statusCode: absent is 200, a three-digit string counts as its number.
 * @param {unknown} raw
 */
export function lambdaStatus(raw) {
  if (raw == null) return 200;
  return finalStatus(typeof raw === "string" && /^[0-9]{3}$/.test(raw) ? Number(raw) : raw, "statusCode");
}

/**
 * The status as a final HTTP status (200-599), or a throw naming it as the tenant wrote it (the
 * invocation is then FN_004). node:http would send 1xx as an interim response the caller keeps
 * waiting after, 600-999 as is, and round 200.5 down; the platform refuses such responses too (the
 * isolate host, the autoscaler), this only fails them early and in the same words everywhere.
 * @param {unknown} status
 * @param {string} what How the tenant named it: "statusCode" or "status".
 * @returns {number}
 */
export function finalStatus(status, what) {
  if (typeof status === "number" && Number.isInteger(status) && status >= 200 && status <= 599) return status;
  const shown = typeof status === "string" ? JSON.stringify(status) : String(status);
  throw new RangeError(`${what} ${shown} is not a response status: it must be an integer from 200 to 599`);
}
