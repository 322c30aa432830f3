// crypto.getRandomValues/randomUUID and the subset of SubtleCrypto webhooks need (digest, HMAC
// sign/verify), computed by the host's OpenSSL through synchronous callbacks.
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

class DOMException extends Error {
  constructor(message, name = "Error") {
    super(message);
    this.name = name;
  }
}

export function createCrypto(host) {
  const keys = new WeakMap();

  class CryptoKey {
    get type() {
      return "secret";
    }
    get extractable() {
      return keys.get(this).extractable;
    }
    get algorithm() {
      return { name: "HMAC", hash: { name: keys.get(this).hashLabel } };
    }
    get usages() {
      return keys.get(this).usages.slice();
    }
  }

  const wrap = (fn) => {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  };

  const subtle = {
    digest(algorithm, data) {
      return wrap(() => toArrayBuffer(host.digest(hashName(algorithm), toBytes(data).slice())));
    },
    importKey(format, keyData, algorithm, extractable, usages) {
      return wrap(() => {
        if (format !== "raw")
          throw new DOMException(`Key format ${format} is not supported`, "NotSupportedError");
        if (algorithm?.name?.toUpperCase() !== "HMAC") {
          throw new DOMException("Only HMAC keys are supported", "NotSupportedError");
        }
        const hash = hashName(algorithm.hash);
        const hashLabel = typeof algorithm.hash === "string" ? algorithm.hash : algorithm.hash.name;
        const key = new CryptoKey();
        keys.set(key, {
          bytes: toBytes(keyData).slice(),
          hash,
          hashLabel,
          extractable,
          usages: Array.from(usages),
        });
        return key;
      });
    },
    exportKey(format, key) {
      return wrap(() => {
        const entry = keys.get(key);
        if (!entry) throw new TypeError("Not a CryptoKey");
        if (!entry.extractable) throw new DOMException("Key is not extractable", "InvalidAccessError");
        if (format !== "raw")
          throw new DOMException(`Key format ${format} is not supported`, "NotSupportedError");
        return toArrayBuffer(entry.bytes.slice());
      });
    },
    sign(algorithm, key, data) {
      return wrap(() => toArrayBuffer(hmac(algorithm, key, data, "sign")));
    },
    verify(algorithm, key, signature, data) {
      return wrap(() => {
        const expected = hmac(algorithm, key, data, "verify");
        const actual = toBytes(signature);
        let diff = expected.length ^ actual.length;
        for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ (actual[i] ?? 0);
        return diff === 0;
      });
    },
  };

  function hmac(algorithm, key, data, usage) {
    const name = typeof algorithm === "string" ? algorithm : algorithm?.name;
    if (String(name).toUpperCase() !== "HMAC")
      throw new DOMException("Only HMAC is supported", "NotSupportedError");
    const entry = keys.get(key);
    if (!entry) throw new TypeError("Not a CryptoKey");
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
        if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array) {
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
