import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { Agent, type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";

/** Linux O_PATH: an fd naming the inode itself, usable for fstat and as a /proc/self/fd target. */
const O_PATH = 0o10000000;

export interface ShimCall {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** A whole body, or chunks as they arrive (content-length must then be in headers). */
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
  signal?: AbortSignal;
  /**
   * Called with the request as soon as it exists, so the caller can end it (`destroy()`, at a
   * deadline) without a `signal`: an AbortController per call plus the stream plumbing node:http
   * adds for a signal cost more than the rest of a warm call's client side.
   */
  onRequest?: (req: ClientRequest) => void;
}

export interface ShimClientOptions {
  /** Where the shim binds its socket: a directory the function's own user can write to. */
  socketPath: string;
  /** The uid the socket must belong to (the container's user). */
  ownerUid: number;
  maxSockets: number;
}

/**
 * HTTP/1.1 to one container's shim over its unix socket, with kept-alive connections: a warm call
 * costs one write and one read on an open socket.
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
  readonly #agent: Agent;
  #fd: number | null = null;
  #pinnedPath: string | null = null;
  #closed = false;

  constructor(options: ShimClientOptions) {
    this.#options = options;
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxSockets,
    });
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
    return true;
  }

  call(call: ShimCall): Promise<IncomingMessage> {
    const socketPath = this.#pinnedPath;
    if (socketPath === null) {
      return Promise.reject(new ShimSocketError("the container's socket has not been checked yet"));
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          agent: this.#agent,
          socketPath,
          method: call.method,
          path: call.path,
          headers: call.headers,
          ...(call.signal ? { signal: call.signal } : {}),
        },
        resolve,
      );
      req.on("error", reject);
      call.onRequest?.(req);
      const body = call.body;
      if (body === null) req.end();
      else if (body instanceof Uint8Array) req.end(body);
      else {
        void (async () => {
          try {
            for await (const chunk of body) {
              if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
            }
            req.end();
          } catch (error) {
            req.destroy(error instanceof Error ? error : new Error(String(error)));
          }
        })();
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
   * the request destroyed). Listeners rather than `for await`: the async iterator sets up
   * end-of-stream tracking for every response, a measurable share of a warm call.
   */
  static read(res: IncomingMessage): Promise<Buffer> {
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
    this.#agent.destroy();
    this.#closed = true;
    // The fd number may be reused once closed: nothing may connect through the old path.
    this.#pinnedPath = null;
    if (this.#fd !== null) {
      closeSync(this.#fd);
      this.#fd = null;
    }
  }
}

/** Something other than the shim's own socket sits where the shim binds it. */
export class ShimSocketError extends Error {
  override readonly name = "ShimSocketError";
}
