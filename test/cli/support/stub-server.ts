import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the stub received, body included. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

export type StubHandler = (request: RecordedRequest, response: ServerResponse) => void | Promise<void>;

/**
 * A tiny stand-in for the gateway on 127.0.0.1: routes are "METHOD /path" (path without query),
 * everything else is fastify's default 404. Every request is recorded for assertions.
 */
export class StubServer {
  readonly requests: RecordedRequest[] = [];
  readonly #routes = new Map<string, StubHandler>();
  readonly #server = createServer((req, res) => {
    void this.#handle(req, res);
  });
  url = "";

  static async start(): Promise<StubServer> {
    const stub = new StubServer();
    await new Promise<void>((resolve) => stub.#server.listen(0, "127.0.0.1", resolve));
    stub.url = `http://127.0.0.1:${(stub.#server.address() as AddressInfo).port}`;
    return stub;
  }

  on(route: string, handler: StubHandler): this {
    this.#routes.set(route, handler);
    return this;
  }

  /** Answers a route with JSON. */
  json(route: string, status: number, body: unknown): this {
    return this.on(route, (_req, res) => sendJson(res, status, body));
  }

  reset(): void {
    this.requests.length = 0;
    this.#routes.clear();
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://stub");
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    this.requests.push(recorded);
    const handler = this.#routes.get(`${recorded.method} ${recorded.path}`);
    if (!handler) {
      sendJson(res, 404, {
        message: `Route ${recorded.method}:${recorded.path} not found`,
        error: "Not Found",
        statusCode: 404,
      });
      return;
    }
    await handler(recorded, res);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (status === 204) {
    res.writeHead(204).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** The gateway's error envelope. */
export function envelope(code: string, message: string, details?: unknown): unknown {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}
