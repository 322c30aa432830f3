import { Agent, request as httpRequest, type IncomingMessage } from "node:http";

export interface ShimCall {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** A whole body, or chunks as they arrive (content-length must then be in headers). */
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
  signal?: AbortSignal;
}

/**
 * HTTP/1.1 to one container's shim over its unix socket, with kept-alive connections: a warm call
 * costs one write and one read on an open socket.
 */
export class ShimClient {
  readonly socketPath: string;
  readonly #agent: Agent;

  constructor(socketPath: string, maxSockets: number) {
    this.socketPath = socketPath;
    this.#agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  call(call: ShimCall): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          agent: this.#agent,
          socketPath: this.socketPath,
          method: call.method,
          path: call.path,
          headers: call.headers,
          ...(call.signal ? { signal: call.signal } : {}),
        },
        resolve,
      );
      req.on("error", reject);
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

  /** Reads a whole response body. */
  static async read(res: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  close(): void {
    this.#agent.destroy();
  }
}
