// Headers, Request and Response over byte bodies. Hand-written on purpose: whatwg-fetch needs
// Blob/FileReader/XMLHttpRequest to read text bodies as bytes, and undici needs Node. Bodies are
// held as a string or a Uint8Array, and as a ReadableStream only when one is asked for (`body`) or
// given (a stream, Blob or FormData body): the common string/bytes path never loads the streams.
import { parseFormBody } from "./form-body.js";
import { loadBlob, loadFormData, loadStreams } from "./web-modules.js";

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function normalizeName(name) {
  const text = String(name);
  if (!HEADER_NAME.test(text)) throw new TypeError(`Invalid header name: "${text}"`);
  return text.toLowerCase();
}

function normalizeValue(value) {
  const text = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  if (/[\0\r\n]/.test(text)) throw new TypeError("Invalid header value");
  return text;
}

export class Headers {
  #map = new Map();
  #cookies = [];

  constructor(init) {
    if (init == null) return;
    if (init instanceof Headers) {
      for (const [k, v] of init.#map) this.#map.set(k, v);
      this.#cookies = init.#cookies.slice();
    } else if (typeof init[Symbol.iterator] === "function") {
      for (const pair of init) {
        const entry = Array.from(pair);
        if (entry.length !== 2) throw new TypeError("Header pairs must have exactly two items");
        this.append(entry[0], entry[1]);
      }
    } else if (typeof init === "object") {
      for (const key of Object.keys(init)) this.append(key, init[key]);
    } else {
      throw new TypeError("Headers init must be an object or an iterable of pairs");
    }
  }

  append(name, value) {
    const key = normalizeName(name);
    const text = normalizeValue(value);
    if (key === "set-cookie") this.#cookies.push(text);
    const prev = this.#map.get(key);
    this.#map.set(key, prev === undefined ? text : `${prev}, ${text}`);
  }

  set(name, value) {
    const key = normalizeName(name);
    const text = normalizeValue(value);
    if (key === "set-cookie") this.#cookies = [text];
    this.#map.set(key, text);
  }

  get(name) {
    const value = this.#map.get(normalizeName(name));
    return value === undefined ? null : value;
  }

  has(name) {
    return this.#map.has(normalizeName(name));
  }

  delete(name) {
    const key = normalizeName(name);
    if (key === "set-cookie") this.#cookies = [];
    this.#map.delete(key);
  }

  getSetCookie() {
    return this.#cookies.slice();
  }

  forEach(callback, thisArg) {
    for (const [k, v] of this) callback.call(thisArg, v, k, this);
  }

  *entries() {
    const keys = Array.from(this.#map.keys()).sort();
    for (const key of keys) {
      if (key === "set-cookie") {
        for (const cookie of this.#cookies) yield [key, cookie];
      } else {
        yield [key, this.#map.get(key)];
      }
    }
  }

  *keys() {
    for (const [k] of this.entries()) yield k;
  }

  *values() {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  /** For the host: names and values alternating, joined by NUL, in iteration order. */
  _flat() {
    let out = "";
    const keys = this.#map.size > 1 ? Array.from(this.#map.keys()).sort() : this.#map.keys();
    for (const key of keys) {
      if (key === "set-cookie") {
        for (const cookie of this.#cookies) out += out === "" ? `${key}\0${cookie}` : `\0${key}\0${cookie}`;
      } else {
        const value = this.#map.get(key);
        out += out === "" ? `${key}\0${value}` : `\0${key}\0${value}`;
      }
    }
    return out;
  }

  get [Symbol.toStringTag]() {
    return "Headers";
  }
}

/**
 * Pairs built outside Headers (Lambda results), flattened like Headers#_flat. NUL, CR and LF are
 * refused as Headers refuses them: they would break the framing of the host's response.
 */
export function flatHeaders(pairs) {
  let out = "";
  for (const [name, value] of pairs) {
    const key = normalizeName(name);
    const text = normalizeValue(value);
    out += out === "" ? `${key}\0${text}` : `\0${key}\0${text}`;
  }
  return out;
}

/** Pairs for the host: one pair per set-cookie, the rest combined. */
export function headerPairs(headers) {
  return Array.from(headers.entries());
}

const encoder = () => new TextEncoder();
// fast-text-encoding's UTF-8 decoder, installed before this module runs: bodies are UTF-8 only,
// and it costs nothing to start. The global TextDecoder becomes the full one on first use
// (web-platform.js), which a POST handler's first `request.json()` should not have to load.
const Utf8Decoder = TextDecoder;
const decoder = () => new Utf8Decoder();

const isStream = (value) =>
  value != null && typeof value === "object" && typeof value.getReader === "function";
/**
 * Streams' "disturbed" flag (read from or cancelled, piping included): a body whose stream was is
 * used. No public API exposes it; web-streams-polyfill, the isolate's streams, keeps the spec's
 * slot as `_disturbed`.
 */
const isDisturbed = (stream) => /** @type {{ _disturbed?: boolean }} */ (stream)._disturbed === true;
const tagOf = (value) => (value != null && typeof value === "object" ? value[Symbol.toStringTag] : undefined);
const isBlob = (value) =>
  (tagOf(value) === "Blob" || tagOf(value) === "File") && typeof value.stream === "function";
const isFormData = (value) => tagOf(value) === "FormData" && typeof value.append === "function";

function chunkBytes(chunk) {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(
    `Body stream chunks must be Uint8Array (got ${typeof chunk}): encode text with TextEncoder or pipe through a TextEncoderStream`,
  );
}

/**
 * A value carried through the body's internal promises. A promise resolved with an object looks
 * up its `then`, which tenant code can plant on Object.prototype; this box has no prototype, so
 * what a body reads cannot be swapped on the way (Fetch reads bodies without such lookups).
 */
const box = (value) => Object.assign(Object.create(null), { value });

/**
 * Reads a stream to its end into one Uint8Array (boxed); `tooLarge(size)` makes the error past
 * `max` bytes. Piped rather than read with reader.read(): read() resolves with `{ value, done }`
 * objects, a `then` lookup each.
 */
export async function readAllBytes(stream, max = Number.POSITIVE_INFINITY, tooLarge = null) {
  const chunks = [];
  let size = 0;
  await stream.pipeTo(
    new (loadStreams().WritableStream)({
      write(chunk) {
        const bytes = chunkBytes(chunk);
        size += bytes.byteLength;
        if (size > max) throw tooLarge ? tooLarge(size) : new RangeError(`Body of over ${max} bytes`);
        chunks.push(bytes);
      },
    }),
  );
  if (chunks.length === 1) return box(chunks[0].slice());
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return box(out);
}

/** A byte stream over a string or bytes body; `onPull` marks the body disturbed when it is read. */
function bytesStream(body, onPull) {
  let sent = false;
  return new (loadStreams().ReadableStream)({
    type: "bytes",
    pull(controller) {
      onPull();
      if (!sent) {
        sent = true;
        const bytes = typeof body === "string" ? encoder().encode(body) : body.slice();
        if (bytes.byteLength > 0) {
          controller.enqueue(bytes);
          return;
        }
      }
      controller.close();
      controller.byobRequest?.respond(0);
    },
  });
}

/**
 * A byte stream (type "bytes": BYOB readers work, as on every body stream) over a stream of byte
 * chunks, such as Blob.stream(). Chunks are copied: enqueueing transfers their buffer, which may
 * be the Blob's own storage.
 */
function byteStreamOver(source) {
  let reader;
  return new (loadStreams().ReadableStream)({
    type: "bytes",
    start() {
      reader = source.getReader();
    },
    async pull(controller) {
      // An empty chunk enqueues nothing, and a pull that enqueues nothing is not called again.
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          controller.byobRequest?.respond(0);
          return;
        }
        const bytes = chunkBytes(value);
        if (bytes.byteLength > 0) return controller.enqueue(bytes.slice());
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** Turns a BodyInit into a string or Uint8Array plus its implied content type. */
export function extractBody(init) {
  if (init == null) return { body: null, type: null };
  if (typeof init === "string") return { body: init, type: "text/plain;charset=UTF-8" };
  if (init instanceof Uint8Array) return { body: init.slice(), type: null };
  if (init instanceof ArrayBuffer) return { body: new Uint8Array(init.slice(0)), type: null };
  if (ArrayBuffer.isView(init)) {
    return {
      body: new Uint8Array(init.buffer.slice(init.byteOffset, init.byteOffset + init.byteLength)),
      type: null,
    };
  }
  if (typeof URLSearchParams === "function" && init instanceof URLSearchParams) {
    return { body: init.toString(), type: "application/x-www-form-urlencoded;charset=UTF-8" };
  }
  if (isStream(init)) {
    if (init.locked) throw new TypeError("The body ReadableStream is locked (already being read)");
    if (isDisturbed(init)) throw new TypeError("The body ReadableStream was already read from");
    return { body: init, type: null };
  }
  if (isBlob(init)) return { body: byteStreamOver(init.stream()), type: init.type || null };
  if (isFormData(init)) {
    const blob = loadFormData().formDataToBlob(init, loadBlob().Blob);
    return { body: byteStreamOver(blob.stream()), type: blob.type };
  }
  return { body: String(init), type: "text/plain;charset=UTF-8" };
}

class Body {
  /** A string, a Uint8Array, a ReadableStream or null. */
  #body;
  #used = false;
  #disturbed = false;

  _initBody(body) {
    this.#body = body;
  }

  /** The body as held; a stream until `_settleBody` read it (callers that need bytes do that first). */
  _rawBody() {
    return this.#body;
  }

  _hasStream() {
    return isStream(this.#body);
  }

  /** Reads a stream body into bytes so it can leave the isolate (responses are not streamed out). */
  async _settleBody(max, tooLarge) {
    if (!isStream(this.#body)) return;
    if (this.#body.locked) throw new TypeError("The body ReadableStream is locked (already being read)");
    this.#body = (await readAllBytes(this.#body, max, tooLarge)).value;
  }

  /** The body for a copy (clone, new Request(request)): a stream is teed, bytes are shared. */
  _cloneBody() {
    if (!isStream(this.#body)) return this.#body;
    const [mine, theirs] = this.#body.tee();
    this.#body = mine;
    return theirs;
  }

  get bodyUsed() {
    return this.#used || this.#disturbed || (isStream(this.#body) && isDisturbed(this.#body));
  }

  get body() {
    if (this.#body == null) return null;
    if (!isStream(this.#body) && this.#used) {
      // Consumed without a stream: its stream is the one the spec's reading left, read and locked.
      const consumed = bytesStream(new Uint8Array(0), () => undefined);
      consumed.getReader();
      this.#body = consumed;
    } else if (!isStream(this.#body)) {
      this.#body = bytesStream(this.#body, () => {
        this.#disturbed = true;
      });
    }
    return this.#body;
  }

  #consume() {
    if (this.bodyUsed) return Promise.reject(new TypeError("Body has already been used"));
    const body = this.#body;
    // A null body is read as empty and leaves bodyUsed false (Fetch "consume body").
    if (body == null) return Promise.resolve(box(null));
    if (isStream(body)) {
      if (body.locked)
        return Promise.reject(new TypeError("The body ReadableStream is locked (already being read)"));
      this.#used = true;
      return readAllBytes(body);
    }
    this.#used = true;
    return Promise.resolve(box(body));
  }

  /** The consumed body (boxed by #consume) as bytes of its own. */
  static #bytesOf(b) {
    return b == null ? new Uint8Array(0) : typeof b === "string" ? encoder().encode(b) : b.slice();
  }

  text() {
    return this.#consume().then(({ value: b }) =>
      b == null ? "" : typeof b === "string" ? b : decoder().decode(b),
    );
  }

  json() {
    return this.text().then((t) => JSON.parse(t));
  }

  arrayBuffer() {
    return this.#consume().then(({ value }) => {
      const b = Body.#bytesOf(value);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    });
  }

  bytes() {
    return this.#consume().then(({ value }) => Body.#bytesOf(value));
  }

  /** The content type, from the subclass's headers. */
  #contentType() {
    return /** @type {{ headers: Headers }} */ (/** @type {unknown} */ (this)).headers.get("content-type");
  }

  blob() {
    return this.#consume().then(
      ({ value }) => new (loadBlob().Blob)([Body.#bytesOf(value)], { type: this.#contentType() ?? "" }),
    );
  }

  formData() {
    return this.#consume().then(({ value }) => parseFormBody(Body.#bytesOf(value), this.#contentType()));
  }
}

const METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"];
/** Module-private: tenant code cannot reach it, so only the host path builds requests this way. */
const FROM_HOST = Symbol("fromHost");

/**
 * The incoming request of an invocation: fields as the host sent them, headers parsed on first use.
 * A module function, not a static, so tenant code cannot build unvalidated requests with it.
 */
export function requestFromHost(url, method, flatHeaders, body) {
  return new Request({ url, method, flatHeaders, body }, FROM_HOST);
}

export class Request extends Body {
  #url;
  #method;
  #headers = null;
  /** Incoming header names and values alternating; turned into Headers on first use only. */
  #flat = null;
  #redirect;
  #signal = null;

  constructor(input, init = {}) {
    super();
    if (init === FROM_HOST) {
      this.#url = input.url;
      this.#method = input.method;
      this.#flat = input.flatHeaders;
      this.#redirect = "follow";
      this._initBody(input.body);
      return;
    }
    const source = input instanceof Request ? input : null;
    this.#url = source ? source.url : String(input instanceof URL ? input.href : input);
    if (!source && !/^[a-z][a-z0-9+.-]*:/i.test(this.#url)) {
      throw new TypeError(`Invalid URL: "${this.#url}" (fetch needs an absolute URL)`);
    }
    let method = init.method ?? source?.method ?? "GET";
    if (METHODS.includes(String(method).toUpperCase())) method = String(method).toUpperCase();
    this.#method = String(method);
    this.#headers = new Headers(init.headers ?? source?.headers);
    this.#redirect = init.redirect ?? source?.redirect ?? "follow";
    this.#signal = init.signal ?? (source ? source.#signal : null);
    const bodyInit = init.body !== undefined ? init.body : source ? source._cloneBody() : null;
    if (bodyInit != null && (this.#method === "GET" || this.#method === "HEAD")) {
      throw new TypeError("Request with GET/HEAD method cannot have body.");
    }
    const { body, type } = extractBody(bodyInit);
    if (type && !this.#headers.has("content-type")) this.#headers.set("content-type", type);
    this._initBody(body);
  }

  get url() {
    return this.#url;
  }
  get method() {
    return this.#method;
  }
  get headers() {
    if (this.#headers === null) {
      const headers = new Headers();
      const flat = this.#flat ?? [];
      for (let i = 0; i + 1 < flat.length; i += 2) headers.append(flat[i], flat[i + 1]);
      this.#headers = headers;
      this.#flat = null;
    }
    return this.#headers;
  }
  get redirect() {
    return this.#redirect;
  }
  /** The signal given to the constructor (or the source request's), null when none was. */
  _givenSignal() {
    return this.#signal;
  }

  /** The request's AbortSignal; one that never aborts unless given (made on first use). */
  get signal() {
    this.#signal ??= new globalThis.AbortController().signal;
    return this.#signal;
  }

  clone() {
    if (this.bodyUsed) throw new TypeError("Cannot clone a Request whose body was used");
    return new Request(this);
  }

  get [Symbol.toStringTag]() {
    return "Request";
  }
}

const NULL_BODY_STATUS = [101, 204, 205, 304];
/** HTTP's reason-phrase: what a statusText may hold. */
const REASON_PHRASE = /^[\t\x20-\x7E\x80-\xFF]*$/;
const REDIRECT_STATUS = [301, 302, 303, 307, 308];

export class Response extends Body {
  #status;
  #statusText;
  #headers;
  #url = "";
  #redirected = false;
  #type = "default";

  constructor(bodyInit = null, init = {}) {
    super();
    const status = init.status === undefined ? 200 : Number(init.status);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`Response status must be between 200 and 599, got ${init.status}`);
    }
    if (bodyInit != null && NULL_BODY_STATUS.includes(status)) {
      throw new TypeError(`Response with status ${status} cannot have a body`);
    }
    this.#status = status;
    const statusText = init.statusText === undefined ? "" : String(init.statusText);
    if (!REASON_PHRASE.test(statusText))
      throw new TypeError(`Invalid Response statusText: ${JSON.stringify(statusText)}`);
    this.#statusText = statusText;
    this.#headers = new Headers(init.headers);
    const { body, type } = extractBody(bodyInit);
    if (type && !this.#headers.has("content-type")) this.#headers.set("content-type", type);
    this._initBody(body);
  }

  static json(data, init = {}) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Value is not JSON serializable");
    const headers = new Headers(init.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return new Response(text, { ...init, headers });
  }

  static redirect(url, status = 302) {
    // A worker has no base URL to resolve against: the URL must be absolute (as in workerd).
    const parsed = new URL(String(url));
    if (!REDIRECT_STATUS.includes(status)) throw new RangeError(`Invalid redirect status ${status}`);
    return new Response(null, { status, headers: { location: parsed.href } });
  }

  static error() {
    const response = new Response(null, { status: 200 });
    response.#status = 0;
    response.#type = "error";
    return response;
  }

  /** Builds a response from the host's fetch bridge, with statuses the constructor refuses. */
  static _fromHost(result) {
    const response = new Response(null, { headers: result.headers });
    response.#status = result.status;
    response.#statusText = result.statusText;
    response.#url = result.url;
    response.#redirected = result.redirected;
    response._initBody(result.body);
    return response;
  }

  get status() {
    return this.#status;
  }
  get statusText() {
    return this.#statusText;
  }
  get ok() {
    return this.#status >= 200 && this.#status < 300;
  }
  get headers() {
    return this.#headers;
  }
  get url() {
    return this.#url;
  }
  get redirected() {
    return this.#redirected;
  }
  get type() {
    return this.#type;
  }

  clone() {
    if (this.bodyUsed) throw new TypeError("Cannot clone a Response whose body was used");
    const copy = new Response(null, { headers: this.#headers });
    copy.#status = this.#status;
    copy.#type = this.#type;
    copy.#statusText = this.#statusText;
    copy.#url = this.#url;
    copy.#redirected = this.#redirected;
    copy._initBody(this._cloneBody());
    return copy;
  }

  get [Symbol.toStringTag]() {
    return "Response";
  }
}
