// What the isolate's global scope holds besides ES2023, for type-checking the code in this folder
// (runtimes/tsconfig.inside.json). An isolate has no Node and no DOM globals: the host puts its
// bridge on `__kumo_host` before the bootstrap runs (FunctionIsolate.#installBridge in
// src/host/function-isolate.ts), and the bootstrap installs the web platform itself.

/** Request fields the fetch bridge sends to the host (BridgeRequest in src/host/fetch-bridge.ts). */
interface KumoBridgeRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: string | Uint8Array | null;
  redirect: string;
}

/** The host's synchronous callbacks; the bootstrap captures them and deletes the global. */
interface KumoHostBridge {
  random(n: number): Uint8Array;
  uuid(): string;
  digest(hash: string, data: Uint8Array): Uint8Array;
  hmac(hash: string, key: Uint8Array, data: Uint8Array): Uint8Array;
  timer(id: number, ms: number): void;
  clearTimer(id: number): void;
  fetch(callId: number, invocationId: string, req: KumoBridgeRequest): void;
  /** A crypto.subtle method run by the host's WebCrypto; answered through `deliver` (src/host/subtle-bridge.ts). */
  subtle(callId: number, method: string, args: unknown[]): void;
  /** Frees the host's handle of a CryptoKey the isolate collected. */
  dropKey(id: number): void;
  settled(invocationId: string, outcome: unknown): void;
  waitDone(invocationId: string, logs: [number, string, string][]): void;
}

declare var __kumo_host: KumoHostBridge | undefined;
/** Set by the bootstrap as its completion value, then taken off the global. */
declare var __kumo_internal: Record<string, unknown> | undefined;

// TextEncoder from "fast-text-encoding" (imported first by the bootstrap); TextDecoder replaced on
// first use by @exodus/bytes (inside/web-platform.js).
declare class TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: string;
  decode(input?: ArrayBufferView | ArrayBuffer): string;
}

// Installed lazily by the bootstrap from whatwg-url.
declare class URLSearchParams {
  constructor(init?: string | Record<string, string> | Iterable<[string, string]>);
  get(name: string): string | null;
  append(name: string, value: string): void;
  toString(): string;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}
declare class URL {
  constructor(url: string, base?: string | URL);
  readonly href: string;
  readonly origin: string;
  readonly protocol: string;
  readonly host: string;
  readonly hostname: string;
  readonly pathname: string;
  readonly search: string;
  readonly searchParams: URLSearchParams;
  readonly hash: string;
}

/** esbuild resolves require() when it bundles the bootstrap: whatwg-url is evaluated on first use. */
declare function require(id: "whatwg-url"): { URL: typeof URL; URLSearchParams: typeof URLSearchParams };
/** The lazily evaluated parts of the web platform (inside/web-modules.js, inside/web-platform.js). */
// biome-ignore lint/suspicious/noExplicitAny: untyped JS libraries bundled by esbuild; the inside code is checked against the isolate's globals only
declare function require(id: string): any;
