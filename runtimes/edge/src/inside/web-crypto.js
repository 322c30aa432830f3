// crypto.getRandomValues/randomUUID, digest and raw HMAC keys (what webhooks need) through the
// host's synchronous callbacks; every other SubtleCrypto method runs in the host's WebCrypto,
// asynchronously, with keys kept there as handles (host/subtle-bridge.ts).
import { bytesToBase64 } from "./base64.js";

const HASHES = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };

function hashName(algorithm) {
  const name = typeof algorithm === "string" ? algorithm : algorithm?.name;
  const hash = HASHES[String(name).toUpperCase()];
  if (!hash) throw new DOMException(`Unrecognized hash algorithm: ${name}`, "NotSupportedError");
  return hash;
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("Data must be an ArrayBuffer or a view of one");
}

const toArrayBuffer = (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);

/** Legacy numeric codes of the DOMException names that have one (WebIDL). */
const LEGACY_CODES = {
  IndexSizeError: 1,
  HierarchyRequestError: 3,
  WrongDocumentError: 4,
  InvalidCharacterError: 5,
  NoModificationAllowedError: 7,
  NotFoundError: 8,
  NotSupportedError: 9,
  InvalidStateError: 11,
  SyntaxError: 12,
  InvalidModificationError: 13,
  NamespaceError: 14,
  InvalidAccessError: 15,
  TypeMismatchError: 17,
  SecurityError: 18,
  NetworkError: 19,
  AbortError: 20,
  URLMismatchError: 21,
  QuotaExceededError: 22,
  TimeoutError: 23,
  InvalidNodeTypeError: 24,
  DataCloneError: 25,
};

class DOMException extends Error {
  constructor(message = "", name = "Error") {
    super(message);
    this.name = String(name);
  }

  get code() {
    return LEGACY_CODES[this.name] ?? 0;
  }
}

/** Turns a host failure ({ name, message }) back into the error WebCrypto would throw. */
function failure(value) {
  const name = value?.name ?? "OperationError";
  const message = value?.message ?? "crypto operation failed";
  return name === "TypeError" ? new TypeError(message) : new DOMException(message, name);
}

/**
 * `host` gives the synchronous callbacks (random, digest, HMAC); `callSubtle(method, args)` runs a
 * SubtleCrypto method in the host (Node's WebCrypto; keys stay there as handles) and resolves with
 * its result or rejects with the host's `{ name, message }`.
 */
export function createCrypto(host, callSubtle) {
  const keys = new WeakMap();
  // A CryptoKey the isolate no longer references frees its handle in the host.
  const handles = new FinalizationRegistry((id) => host.dropKey(id));

  class CryptoKey {
    constructor() {
      throw new TypeError("Illegal constructor");
    }
    get type() {
      return entryOf(this).type;
    }
    get extractable() {
      return entryOf(this).extractable;
    }
    get algorithm() {
      return structuredCloneAlgorithm(entryOf(this).algorithm);
    }
    get usages() {
      return entryOf(this).usages.slice();
    }
    get [Symbol.toStringTag]() {
      return "CryptoKey";
    }
  }

  function entryOf(key) {
    const entry = keys.get(key);
    if (!entry) throw new TypeError("Not a CryptoKey");
    return entry;
  }

  function makeKey(entry) {
    const key = Object.create(CryptoKey.prototype);
    keys.set(key, entry);
    if (entry.id !== undefined) handles.register(key, entry.id);
    return key;
  }

  /** A key from the host: its handle plus the fields CryptoKey shows. */
  const hostKey = (d) =>
    makeKey({
      id: d.__kumoKey,
      type: d.type,
      extractable: d.extractable,
      algorithm: d.algorithm,
      usages: d.usages,
    });

  function fromHost(value) {
    if (value && typeof value === "object" && typeof value.__kumoKey === "number") return hostKey(value);
    if (
      value &&
      typeof value === "object" &&
      value.publicKey &&
      typeof value.publicKey.__kumoKey === "number"
    ) {
      return { publicKey: hostKey(value.publicKey), privateKey: hostKey(value.privateKey) };
    }
    return value;
  }

  /** Arguments as plain data for the host: keys become handles (or their raw bytes), buffers copies. */
  function wire(value, depth = 0) {
    if (value === null || typeof value !== "object") return typeof value === "function" ? undefined : value;
    const entry = keys.get(value);
    if (entry) {
      if (entry.id !== undefined) return { __kumoKey: entry.id };
      return {
        __kumoRaw: entry.bytes.slice(),
        algorithm: { name: "HMAC", hash: { name: entry.hashLabel } },
        extractable: entry.extractable,
        usages: entry.usages.slice(),
      };
    }
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return toBytes(value).slice();
    if (depth > 4) throw new TypeError("Argument nested too deeply");
    if (Array.isArray(value)) return value.map((item) => wire(item, depth + 1));
    const out = {};
    for (const name of Object.keys(value)) out[name] = wire(value[name], depth + 1);
    return out;
  }

  const remote = (method, args) =>
    wrap(() =>
      callSubtle(
        method,
        args.map((arg) => wire(arg)),
      ),
    ).then(fromHost, (error) => {
      throw error instanceof Error ? error : failure(error);
    });

  const wrap = (fn) => {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  };

  const algorithmName = (algorithm) =>
    String(typeof algorithm === "string" ? algorithm : algorithm?.name).toUpperCase();
  const isLocalHmac = (key) => keys.get(key)?.id === undefined && keys.has(key);

  const subtle = {
    digest(algorithm, data) {
      return wrap(() => toArrayBuffer(host.digest(hashName(algorithm), toBytes(data).slice())));
    },
    importKey(format, keyData, algorithm, extractable, usages) {
      // Raw HMAC keys (webhook signatures, the hot path) stay in the isolate: no host round trip.
      if (format !== "raw" || algorithmName(algorithm) !== "HMAC" || algorithm?.length !== undefined) {
        return remote("importKey", [format, keyData, algorithm, extractable, Array.from(usages)]);
      }
      return wrap(() => {
        const hash = hashName(algorithm.hash);
        const hashLabel =
          typeof algorithm.hash === "string"
            ? algorithm.hash.toUpperCase()
            : algorithm.hash.name.toUpperCase();
        const bytes = toBytes(keyData).slice();
        if (bytes.length === 0) throw new DOMException("HMAC key data must not be empty", "DataError");
        const list = Array.from(usages, String);
        for (const usage of list) {
          if (usage !== "sign" && usage !== "verify")
            throw new DOMException(`Unsupported key usage: ${usage}`, "SyntaxError");
        }
        // WebCrypto importKey: a secret key nobody may use is refused.
        if (list.length === 0) throw new DOMException("A secret key needs at least one usage", "SyntaxError");
        return makeKey({
          type: "secret",
          extractable: Boolean(extractable),
          algorithm: { name: "HMAC", hash: { name: hashLabel }, length: bytes.length * 8 },
          usages: list,
          bytes,
          hash,
          hashLabel,
        });
      });
    },
    exportKey(format, key) {
      if (!isLocalHmac(key)) return remote("exportKey", [format, key]);
      return wrap(() => {
        const entry = entryOf(key);
        if (!entry.extractable) throw new DOMException("Key is not extractable", "InvalidAccessError");
        if (format === "raw") return toArrayBuffer(entry.bytes.slice());
        if (format === "jwk") {
          const k = bytesToBase64Url(entry.bytes);
          return {
            kty: "oct",
            k,
            alg: `HS${entry.hashLabel.slice(4)}`,
            key_ops: entry.usages.slice(),
            ext: true,
          };
        }
        throw new DOMException(`Key format ${format} is not supported for HMAC keys`, "NotSupportedError");
      });
    },
    sign(algorithm, key, data) {
      if (!isLocalHmac(key)) return remote("sign", [algorithm, key, data]);
      return wrap(() => toArrayBuffer(hmac(algorithm, key, data, "sign")));
    },
    verify(algorithm, key, signature, data) {
      if (!isLocalHmac(key)) return remote("verify", [algorithm, key, signature, data]);
      return wrap(() => {
        const expected = hmac(algorithm, key, data, "verify");
        const actual = toBytes(signature);
        return expected.length === actual.length && constantTimeEqual(expected, actual);
      });
    },
    encrypt: (algorithm, key, data) => remote("encrypt", [algorithm, key, data]),
    decrypt: (algorithm, key, data) => remote("decrypt", [algorithm, key, data]),
    generateKey: (algorithm, extractable, usages) =>
      remote("generateKey", [algorithm, extractable, Array.from(usages)]),
    deriveKey: (algorithm, baseKey, derivedAlgorithm, extractable, usages) =>
      remote("deriveKey", [algorithm, baseKey, derivedAlgorithm, extractable, Array.from(usages)]),
    deriveBits: (algorithm, baseKey, length) => remote("deriveBits", [algorithm, baseKey, length]),
    wrapKey: (format, key, wrappingKey, wrapAlgorithm) =>
      remote("wrapKey", [format, key, wrappingKey, wrapAlgorithm]),
    unwrapKey: (format, wrapped, unwrappingKey, unwrapAlgorithm, unwrappedAlgorithm, extractable, usages) =>
      remote("unwrapKey", [
        format,
        wrapped,
        unwrappingKey,
        unwrapAlgorithm,
        unwrappedAlgorithm,
        extractable,
        Array.from(usages),
      ]),
    /** Cloudflare Workers' extension: compares two buffers of equal length in constant time. */
    timingSafeEqual(a, b) {
      const left = toBytes(a);
      const right = toBytes(b);
      if (left.byteLength !== right.byteLength)
        throw new TypeError("Input buffers must have the same byte length");
      return constantTimeEqual(left, right);
    },
  };

  function hmac(algorithm, key, data, usage) {
    if (algorithmName(algorithm) !== "HMAC") {
      throw new DOMException(
        `Key algorithm HMAC does not match ${algorithmName(algorithm)}`,
        "InvalidAccessError",
      );
    }
    const entry = entryOf(key);
    if (!entry.usages.includes(usage))
      throw new DOMException(`Key usages do not include ${usage}`, "InvalidAccessError");
    return host.hmac(entry.hash, entry.bytes, toBytes(data).slice());
  }

  return {
    CryptoKey,
    DOMException,
    crypto: {
      subtle,
      getRandomValues(array) {
        if (
          !ArrayBuffer.isView(array) ||
          array instanceof DataView ||
          array instanceof Float32Array ||
          array instanceof Float64Array
        ) {
          throw new DOMException("The data argument must be an integer-type TypedArray", "TypeMismatchError");
        }
        if (array.byteLength > 65536) {
          throw new DOMException("getRandomValues is limited to 65536 bytes", "QuotaExceededError");
        }
        const bytes = host.random(array.byteLength);
        new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes);
        return array;
      },
      randomUUID() {
        return host.uuid();
      },
    },
  };
}

function constantTimeEqual(a, b) {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function bytesToBase64Url(bytes) {
  return bytesToBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A fresh copy of a key's algorithm for each read, so tenant code cannot alter the key's record. */
function structuredCloneAlgorithm(algorithm) {
  const out = {};
  for (const [name, value] of Object.entries(algorithm)) {
    out[name] =
      value instanceof Uint8Array ? value.slice() : value && typeof value === "object" ? { ...value } : value;
  }
  return out;
}
