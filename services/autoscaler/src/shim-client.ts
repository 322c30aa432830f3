import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { maxHeaderSize } from "node:http";
import { Readable } from "node:stream";
import { type Dispatcher, Pool } from "undici";

/** Linux O_PATH: an fd naming the inode itself, usable for fstat and as a /proc/self/fd target. */
const O_PATH = 0o10000000;

/** Ends a call: the request and, once it has one, its response (which then fails with `error`). */
export type AbortCall = (error: Error) => void;

export interface ShimCall {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** A whole body, or chunks as they arrive (content-length must then be in headers). */
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
  signal?: AbortSignal;
  /**
   * Called with the call's abort function as soon as the call exists, so the caller can end it (at
   * a deadline) without a `signal`: an AbortController per call costs more than the rest of a warm
   * call's client side.
   */
  onRequest?: (abort: AbortCall) => void;
}

export interface ShimClientOptions {
  /** Where the shim binds its socket: a directory the function's own user can write to. */
  socketPath: string;
  /** The uid the socket must belong to (the container's user). */
  ownerUid: number;
  maxSockets: number;
}

/**
 * Request headers undici refuses to send (it frames the request itself) or that ask for an
 * exchange the shim call does not make (`expect: 100-continue`): the caller's hop is over.
 */
const NOT_SENT = new Set(["connection", "keep-alive", "upgrade", "transfer-encoding", "expect"]);

/**
 * HTTP/1.1 to one container's shim over its unix socket, with kept-alive connections: a warm call
 * costs one write and one read on an open socket. The client is undici's connection pool, driven
 * through `dispatch`: against node:http's Agent and ClientRequest it costs about half the CPU per
 * call (10–15 µs against 28 µs at 64 calls in flight on the development machine), and the
 * autoscaler makes one such call per container invocation.
 *
 * The socket lives in a directory the function can write to, so its path is not trusted: a
 * function could swap `rt.sock` for a symlink to any socket on the host, and connect(2) follows
 * symlinks. The first time the socket appears, the client opens it with O_PATH|O_NOFOLLOW (a
 * symlink is then opened as itself, not followed), checks that the inode is a socket owned by the
 * container's user, and from then on connects through `/proc/self/fd/<fd>`, which names that
 * inode whatever later happens to the path.
 */
export class ShimClient {
  readonly #options: ShimClientOptions;
  #pool: Pool | null = null;
  #fd: number | null = null;
  #pinnedPath: string | null = null;
  #closed = false;

  constructor(options: ShimClientOptions) {
    this.#options = options;
  }

  /** The path connections use: the pinned inode once the shim's socket has been checked. */
  get socketPath(): string {
    return this.#pinnedPath ?? this.#options.socketPath;
  }

  /**
   * Pins the shim's socket (see the class comment). False while it does not exist yet; throws if
   * something other than the container user's socket sits at the path.
   */
  pin(): boolean {
    if (this.#pinnedPath !== null) return true;
    if (this.#closed) return false;
    let fd: number;
    try {
      fd = openSync(this.#options.socketPath, O_PATH | constants.O_NOFOLLOW);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw error;
    }
    const stat = fstatSync(fd);
    if (!stat.isSocket() || stat.uid !== this.#options.ownerUid) {
      closeSync(fd);
      throw new ShimSocketError(
        stat.isSymbolicLink()
          ? "the container replaced its socket with a symbolic link"
          : "the container's socket is not a socket it owns",
      );
    }
    this.#fd = fd;
    this.#pinnedPath = `/proc/self/fd/${fd}`;
    this.#pool = new Pool("http://localhost", {
      socketPath: this.#pinnedPath,
      connections: this.#options.maxSockets,
      pipelining: 1,
      // Deadlines are the caller's (the function's timeout); a slow function is not an error here.
      headersTimeout: 0,
      bodyTimeout: 0,
      // Connections stay open while the container lives (the shims do not close idle ones).
      keepAliveTimeout: 600_000,
      keepAliveMaxTimeout: 600_000,
      maxHeaderSize,
    });
    return true;
  }

  /** Starts a call; resolves with the response once its head has arrived. */
  call(call: ShimCall): Promise<ShimResponse> {
    const pool = this.#pool;
    if (pool === null) {
      return Promise.reject(new ShimSocketError("the container's socket has not been checked yet"));
    }
    let headers = call.headers;
    for (const name in headers) {
      if (NOT_SENT.has(name.toLowerCase())) {
        headers = Object.fromEntries(Object.entries(headers).filter(([n]) => !NOT_SENT.has(n.toLowerCase())));
        break;
      }
    }
    return new Promise<ShimResponse>((resolve, reject) => {
      const handler = new ShimCallHandler(resolve, reject);
      const signal = call.signal;
      if (signal) {
        if (signal.aborted) {
          reject(abortError(signal));
          return;
        }
        const onAbort = () => handler.abort(abortError(signal));
        signal.addEventListener("abort", onAbort, { once: true });
        handler.onSettled = () => signal.removeEventListener("abort", onAbort);
      }
      call.onRequest?.((error) => handler.abort(error));
      try {
        pool.dispatch(
          {
            method: call.method,
            path: call.path,
            headers,
            body: call.body as Dispatcher.DispatchOptions["body"],
          },
          handler,
        );
      } catch (error) {
        handler.onError(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** GET /healthz: true on a 200 within the timeout. */
  async healthy(timeoutMs: number): Promise<boolean> {
    try {
      if (!this.pin()) return false;
      const res = await this.call({
        method: "GET",
        path: "/healthz",
        headers: {},
        body: null,
        signal: AbortSignal.timeout(timeoutMs),
      });
      res.resume();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  /**
   * Reads a whole response body; fails when the response breaks off (the connection was cut or
   * the call aborted). Listeners rather than `for await`: the async iterator sets up end-of-stream
   * tracking for every response, a measurable share of a warm call.
   */
  static read(res: ShimResponse): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
      res.once("error", reject);
      res.once("close", () => {
        if (!res.complete) reject(new Error("the response was cut off"));
      });
    });
  }

  close(): void {
    void this.#pool?.destroy().catch(() => {});
    this.#pool = null;
    this.#closed = true;
    // The fd number may be reused once closed: nothing may connect through the old path.
    this.#pinnedPath = null;
    if (this.#fd !== null) {
      closeSync(this.#fd);
      this.#fd = null;
    }
  }
}

/**
 * A shim's response: status and headers as they arrived, and the body as a stream (paused while
 * its reader lags behind, so a large body does not pile up in memory).
 */
export class ShimResponse extends Readable {
  readonly statusCode: number;
  /** Name, value, name, value... as received (names keep their case, repeated headers repeat). */
  readonly rawHeaders: string[];
  /** True once the whole body has arrived (it may still be unread). */
  complete = false;
  readonly #handler: ShimCallHandler;

  constructor(statusCode: number, rawHeaders: string[], handler: ShimCallHandler) {
    super();
    this.statusCode = statusCode;
    this.rawHeaders = rawHeaders;
    this.#handler = handler;
  }

  /**
   * The first value of a header (`name` in lower case). A scan of the few raw headers, not a map
   * built for every response: the fleet provider makes its own list of them anyway.
   */
  header(name: string): string | undefined {
    const raw = this.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const key = raw[i] as string;
      if (key.length === name.length && key.toLowerCase() === name) return raw[i + 1];
    }
    return undefined;
  }

  override _read(): void {
    this.#handler.resumeBody();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.complete) this.#handler.abort(error ?? new Error("the response was destroyed"));
    callback(error);
  }
}

/** undici's dispatch handler of one call: resolves the response at its head, then feeds its body. */
class ShimCallHandler implements Dispatcher.DispatchHandler {
  onSettled: (() => void) | undefined;
  #resolve: ((res: ShimResponse) => void) | undefined;
  #reject: ((error: Error) => void) | undefined;
  #abort: ((error?: Error) => void) | undefined;
  /** An abort asked for before undici handed over its abort function. */
  #abortedWith: Error | undefined;
  #response: ShimResponse | undefined;
  #resume: (() => void) | undefined;

  constructor(resolve: (res: ShimResponse) => void, reject: (error: Error) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  abort(error: Error): void {
    if (this.#abort) this.#abort(error);
    else this.#abortedWith ??= error;
  }

  /** The body's reader wants more: undici resumes the connection if it paused it (a no-op if not). */
  resumeBody(): void {
    this.#resume?.();
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort;
    if (this.#abortedWith) abort(this.#abortedWith);
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void): boolean {
    // 1xx are interim (as node:http treats them), except 101, which no request here asked for:
    // it is the function's answer, and checked as such.
    if (statusCode < 200 && statusCode !== 101) return true;
    const rawHeaders: string[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) rawHeaders[i] = (raw[i] as Buffer).toString("latin1");
    const response = new ShimResponse(statusCode, rawHeaders, this);
    this.#response = response;
    const resolve = this.#resolve;
    this.#settle();
    resolve?.(response);
    this.#resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    const response = this.#response;
    if (!response) return true;
    if (response.push(chunk)) return true;
    // undici pauses the connection until `resume`, which the stream's next _read calls.
    return false;
  }

  onComplete(): void {
    const response = this.#response;
    if (!response) {
      this.onError(new Error("the response ended before its head"));
      return;
    }
    response.complete = true;
    response.push(null);
    this.onSettled?.();
  }

  onError(error: Error): void {
    const reject = this.#reject;
    this.#settle();
    this.onSettled?.();
    if (reject) reject(error);
    else if (this.#response && !this.#response.destroyed) this.#response.destroy(error);
  }

  #settle(): void {
    this.#resolve = undefined;
    this.#reject = undefined;
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error("the call was aborted");
}

/** Something other than the shim's own socket sits where the shim binds it. */
export class ShimSocketError extends Error {
  override readonly name = "ShimSocketError";
}
