// node:crypto for edge functions built with "compatibility": ["nodejs"]: the subset Workers'
// nodejs_compat users reach for. Hashes and HMACs are computed by the isolate host (Node's own
// crypto) through the synchronous hook the bootstrap exposes for this module (inside/bootstrap.js);
// random values and webcrypto are the isolate's Web Crypto.
import { Buffer } from "buffer/";

const HOOK = Symbol.for("kumo.node-crypto");
const HASHES = ["md5", "sha1", "sha256", "sha384", "sha512"];
const ALIASES = { "sha-1": "sha1", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512" };
const RANDOM_CHUNK = 65536;

function hook() {
  const found = globalThis[HOOK];
  if (!found) throw new Error("node:crypto hashing needs the Kumo edge runtime");
  return found;
}

function hashName(algorithm) {
  const name = String(algorithm).toLowerCase();
  const known = ALIASES[name] ?? name;
  if (!HASHES.includes(known)) {
    const error = new Error(
      `Digest method not supported: ${algorithm} (edge functions have ${HASHES.join(", ")})`,
    );
    error.code = "ERR_CRYPTO_INVALID_DIGEST";
    throw error;
  }
  return known;
}

function bytesOf(data, encoding) {
  if (typeof data === "string") return Buffer.from(data, encoding ?? "utf8");
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError(
    'The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView',
  );
}

function concat(chunks) {
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

function output(bytes, encoding) {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return encoding === undefined || encoding === "buffer" ? buffer : buffer.toString(encoding);
}

/** Data is kept until digest(): the host hashes it in one call. */
class Digestible {
  #chunks = [];
  #done = false;

  update(data, encoding) {
    if (this.#done)
      throw Object.assign(new Error("Digest already called"), { code: "ERR_CRYPTO_HASH_FINALIZED" });
    this.#chunks.push(bytesOf(data, encoding).slice());
    return this;
  }

  take() {
    if (this.#done)
      throw Object.assign(new Error("Digest already called"), { code: "ERR_CRYPTO_HASH_FINALIZED" });
    this.#done = true;
    return concat(this.#chunks);
  }

  chunks() {
    return [...this.#chunks];
  }
}

export class Hash extends Digestible {
  #algorithm;

  constructor(algorithm) {
    super();
    this.#algorithm = hashName(algorithm);
  }

  digest(encoding) {
    return output(hook().hash(this.#algorithm, this.take()), encoding);
  }

  copy() {
    const copy = new Hash(this.#algorithm);
    for (const chunk of this.chunks()) copy.update(chunk);
    return copy;
  }
}

export class Hmac extends Digestible {
  #algorithm;
  #key;

  constructor(algorithm, key) {
    super();
    this.#algorithm = hashName(algorithm);
    this.#key = bytesOf(key).slice();
  }

  digest(encoding) {
    return output(hook().hmac(this.#algorithm, this.#key, this.take()), encoding);
  }
}

export const createHash = (algorithm) => new Hash(algorithm);
export const createHmac = (algorithm, key) => new Hmac(algorithm, key);
export const getHashes = () => [...HASHES];

/** The one-shot form of Node 21+: `hash("sha256", data, "hex")`. */
export const hash = (algorithm, data, encoding = "hex") =>
  createHash(algorithm).update(data).digest(encoding);

export function randomBytes(size, callback) {
  if (!Number.isInteger(size) || size < 0 || size > 2 ** 31 - 1)
    throw new RangeError(
      `The value of "size" is out of range. It must be >= 0 && <= 2147483647. Received ${size}`,
    );
  const bytes = Buffer.alloc(size);
  for (let at = 0; at < size; at += RANDOM_CHUNK) {
    globalThis.crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + RANDOM_CHUNK)));
  }
  if (typeof callback === "function") {
    queueMicrotask(() => callback(null, bytes));
    return undefined;
  }
  return bytes;
}

export function randomInt(min, max) {
  const [low, high] = max === undefined ? [0, min] : [min, max];
  if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || high <= low)
    throw new RangeError('The "max" argument must be greater than "min"');
  const range = high - low;
  // Rejection sampling over 48 random bits, as Node does: no modulo bias.
  const limit = 2 ** 48 - (2 ** 48 % range);
  for (;;) {
    const value = randomBytes(6).readUIntBE(0, 6);
    if (value < limit) return low + (value % range);
  }
}

export const randomUUID = () => globalThis.crypto.randomUUID();
export const getRandomValues = (array) => globalThis.crypto.getRandomValues(array);

export function timingSafeEqual(a, b) {
  const left = bytesOf(a);
  const right = bytesOf(b);
  if (left.byteLength !== right.byteLength) {
    throw Object.assign(new RangeError("Input buffers must have the same byte length"), {
      code: "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH",
    });
  }
  let diff = 0;
  for (let i = 0; i < left.byteLength; i++) diff |= left[i] ^ right[i];
  return diff === 0;
}

export const webcrypto = globalThis.crypto;
export const subtle = globalThis.crypto.subtle;

export default {
  Hash,
  Hmac,
  createHash,
  createHmac,
  getHashes,
  hash,
  randomBytes,
  randomInt,
  randomUUID,
  getRandomValues,
  timingSafeEqual,
  webcrypto,
  subtle,
};
