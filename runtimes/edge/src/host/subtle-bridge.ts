import { webcrypto } from "node:crypto";

type NodeCryptoKey = webcrypto.CryptoKey;

/** A key as the isolate knows it: a handle into this bridge plus the fields CryptoKey exposes. */
export interface KeyDescriptor {
  __kumoKey: number;
  type: string;
  extractable: boolean;
  algorithm: unknown;
  usages: string[];
}

/** An isolate-side HMAC key (imported raw without a host call), sent along when a host call needs it. */
interface RawKeyRef {
  __kumoRaw: Uint8Array;
  algorithm: { name: string; hash: { name: string } };
  extractable: boolean;
  usages: string[];
}

/** What a failed call returns to the isolate, which rethrows it as a DOMException of that name. */
export interface SubtleFailure {
  name: string;
  message: string;
}

const METHODS = [
  "encrypt",
  "decrypt",
  "sign",
  "verify",
  "digest",
  "generateKey",
  "deriveKey",
  "deriveBits",
  "importKey",
  "exportKey",
  "wrapKey",
  "unwrapKey",
] as const;
type Method = (typeof METHODS)[number];

/** Keys an isolate may hold at once (handles are freed when the isolate collects its CryptoKey). */
const MAX_KEYS = 10_000;
/** Work the host does on the isolate's behalf is bounded: keygen and PBKDF2 run on libuv's pool. */
const MAX_MODULUS_BITS = 4096;
const MAX_PBKDF2_ITERATIONS = 100_000;
/**
 * Calls one isolate may have running at once: their CPU (on libuv's pool) is not the isolate's, so
 * an isolate must not queue RSA key generations without bound.
 */
const MAX_PENDING = 16;
/**
 * Calls that wait for one of those slots, in order (a `Promise.all` of many verifications is
 * ordinary code); past this many the isolate is refused at once.
 */
const MAX_QUEUED = 1024;

class BridgeError extends Error {
  constructor(message: string, name: string) {
    super(message);
    this.name = name;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" &&
  value !== null &&
  !ArrayBuffer.isView(value) &&
  !(value instanceof ArrayBuffer);

/** Node 20 has no `webcrypto.CryptoKey` export; a WebCrypto result that looks like a key is one. */
const isCryptoKey = (value: unknown): value is NodeCryptoKey =>
  isRecord(value) &&
  Object.getPrototypeOf(value) !== Object.prototype &&
  typeof value.type === "string" &&
  Array.isArray(value.usages);

/**
 * crypto.subtle beyond digest and raw HMAC, for one isolate: Node's WebCrypto does the work and
 * the keys stay here, the isolate holding numbered handles. Calls are asynchronous; the isolate
 * gets the result through its `deliver` entry, as fetch results do.
 */
export class SubtleBridge {
  #keys = new Map<number, NodeCryptoKey>();
  #seq = 0;
  #pending = 0;
  readonly #queued: (() => void)[] = [];

  /** Runs one SubtleCrypto method with the isolate's (copied) arguments. */
  async call(method: string, args: unknown[]): Promise<unknown> {
    if (!(METHODS as readonly string[]).includes(method)) {
      throw new BridgeError(`crypto.subtle.${method} is not supported`, "NotSupportedError");
    }
    if (this.#pending >= MAX_PENDING) {
      if (this.#queued.length >= MAX_QUEUED) {
        throw new BridgeError(
          `Too many crypto.subtle calls at once (${MAX_PENDING} running, ${MAX_QUEUED} waiting)`,
          "QuotaExceededError",
        );
      }
      // The finishing call hands its slot over: #pending stays counted for this one.
      await new Promise<void>((resolve) => this.#queued.push(resolve));
    } else this.#pending++;
    try {
      const resolved = await Promise.all(args.map((arg) => this.#resolve(arg)));
      checkCost(method as Method, resolved);
      const subtle = webcrypto.subtle as unknown as Record<Method, (...a: unknown[]) => Promise<unknown>>;
      const result = await subtle[method as Method](...resolved);
      return this.#describe(result);
    } finally {
      const next = this.#queued.shift();
      if (next) next();
      else this.#pending--;
    }
  }

  /** Frees a handle the isolate no longer references. */
  drop(id: number): void {
    this.#keys.delete(id);
  }

  get size(): number {
    return this.#keys.size;
  }

  async #resolve(value: unknown, depth = 0): Promise<unknown> {
    if (!isRecord(value) || depth > 4) return value;
    if (typeof value.__kumoKey === "number") {
      const key = this.#keys.get(value.__kumoKey);
      if (!key) throw new BridgeError("Unknown CryptoKey", "InvalidAccessError");
      return key;
    }
    if (value.__kumoRaw instanceof Uint8Array) {
      const raw = value as unknown as RawKeyRef;
      return webcrypto.subtle.importKey(
        "raw",
        raw.__kumoRaw,
        raw.algorithm,
        raw.extractable,
        raw.usages as webcrypto.KeyUsage[],
      );
    }
    if (Array.isArray(value)) return Promise.all(value.map((item) => this.#resolve(item, depth + 1)));
    const out: Record<string, unknown> = {};
    for (const [name, item] of Object.entries(value)) out[name] = await this.#resolve(item, depth + 1);
    return out;
  }

  #describe(result: unknown): unknown {
    if (isCryptoKey(result)) return this.#handle(result);
    if (isRecord(result) && isCryptoKey(result.publicKey)) {
      const pair = result as unknown as webcrypto.CryptoKeyPair;
      return { publicKey: this.#handle(pair.publicKey), privateKey: this.#handle(pair.privateKey) };
    }
    return result;
  }

  #handle(key: NodeCryptoKey): KeyDescriptor {
    if (this.#keys.size >= MAX_KEYS) {
      throw new BridgeError(`Too many CryptoKeys held at once (limit ${MAX_KEYS})`, "QuotaExceededError");
    }
    const id = ++this.#seq;
    this.#keys.set(id, key);
    return {
      __kumoKey: id,
      type: key.type,
      extractable: key.extractable,
      algorithm: plainAlgorithm(key.algorithm),
      usages: [...key.usages],
    };
  }
}

/** KeyAlgorithm as plain data (RSA's publicExponent is a Uint8Array, hash a nested object). */
function plainAlgorithm(algorithm: webcrypto.KeyAlgorithm): unknown {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(algorithm)) {
    out[name] = value instanceof Uint8Array ? new Uint8Array(value) : isRecord(value) ? { ...value } : value;
  }
  return out;
}

function checkCost(method: Method, args: unknown[]): void {
  const algorithm = args[method === "importKey" ? 2 : method === "unwrapKey" ? 4 : 0];
  if (!isRecord(algorithm)) return;
  if (method === "generateKey" && typeof algorithm.modulusLength === "number") {
    if (algorithm.modulusLength > MAX_MODULUS_BITS) {
      throw new BridgeError(`RSA keys are limited to ${MAX_MODULUS_BITS} bits`, "NotSupportedError");
    }
  }
  if (typeof algorithm.iterations === "number" && algorithm.iterations > MAX_PBKDF2_ITERATIONS) {
    throw new BridgeError(`PBKDF2 is limited to ${MAX_PBKDF2_ITERATIONS} iterations`, "NotSupportedError");
  }
}

/** The error as the isolate rethrows it: WebCrypto's DOMException names pass through. */
export function subtleFailure(error: unknown): SubtleFailure {
  // Node 20 names one DOMException wrongly (exportKey of a non-extractable key).
  if (error instanceof Error) {
    return {
      name: error.name === "InvalidAccessException" ? "InvalidAccessError" : error.name,
      message: error.message,
    };
  }
  return { name: "OperationError", message: String(error) };
}
