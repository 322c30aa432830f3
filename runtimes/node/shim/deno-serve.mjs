// Deno only: serves the shim's node-style (req, res) handler with Deno's native HTTP server on the unix
// socket. Deno's node:http compatibility costs ~60 ms to load, Deno.serve({ path }) ~20 ms in all.
// The adapter implements only what main.mjs and invoke.mjs use of IncomingMessage/ServerResponse.
const nullBodyStatus = new Set([101, 103, 204, 205, 304]);

/**
 * @param {string} socketPath
 * @param {(req: any, res: any) => Promise<void>} handle
 * @param {() => void} onListen
 * @returns {{ close(): void }}
 */
export function serveDeno(socketPath, handle, onListen) {
  const server = Deno.serve({ path: socketPath, onListen }, (request) => respond(request, handle));
  return { close: () => void server.shutdown() };
}

function respond(request, handle) {
  const url = new URL(request.url);
  const headers = {};
  for (const [name, value] of request.headers) headers[name] = value;
  const req = {
    method: request.method,
    url: url.pathname + url.search,
    headers,
    async *[Symbol.asyncIterator]() {
      if (request.body) yield Buffer.from(await request.arrayBuffer());
    },
  };
  return new Promise((resolve) => {
    const res = new DenoResponse(request.method, resolve);
    handle(req, res).then(
      () => res.end(),
      (err) => {
        if (!res.headersSent) resolve(new Response(String(err), { status: 500 }));
        else res.destroy();
      },
    );
  });
}

class DenoResponse {
  headersSent = false;
  #finished = false;
  #method;
  #resolve;
  #writer;

  constructor(method, resolve) {
    this.#method = method;
    this.#resolve = resolve;
  }

  writeHead(status, headers = {}) {
    if (this.headersSent) return this;
    this.headersSent = true;
    const out = new Headers();
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) out.append(name, String(v));
    }
    if (nullBodyStatus.has(status) || this.#method === "HEAD") {
      this.#finished = true;
      this.#resolve(new Response(null, { status, headers: out }));
      return this;
    }
    const { readable, writable } = new TransformStream();
    this.#writer = writable.getWriter();
    this.#writer.closed.catch(() => {});
    this.#resolve(new Response(readable, { status, headers: out }));
    return this;
  }

  write(chunk, encoding) {
    if (!this.headersSent) this.writeHead(200);
    if (this.#finished || chunk === undefined || chunk === null) return true;
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk;
    this.#writer.write(bytes).catch(() => {});
    return true;
  }

  end(chunk, encoding) {
    if (this.#finished && this.headersSent) return this;
    if (chunk !== undefined && typeof chunk !== "function") this.write(chunk, encoding);
    if (!this.headersSent) this.writeHead(200);
    if (!this.#finished) {
      this.#finished = true;
      this.#writer.close().catch(() => {});
    }
    return this;
  }

  destroy() {
    if (!this.headersSent) {
      this.headersSent = true;
      this.#resolve(Response.error());
    } else if (!this.#finished) {
      this.#finished = true;
      this.#writer.abort(new Error("response destroyed")).catch(() => {});
    }
  }
}
