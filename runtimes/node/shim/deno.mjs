// Deno-only parts of the shim, imported only on Deno: none of them touches Deno's Node compatibility
// layer (process, Buffer, node:*), whose first use costs ~40–50 ms (see runtimes/deno/README.md).
// Node and bun never load this file.

/** Log output: writes straight to fd 1. */
export function denoWriter() {
  const encoder = new TextEncoder();
  return (text) => {
    let bytes = encoder.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
  };
}

/** A small util.format: %s %d %i %f %j %o %O %c %% and inspect-like output for other values. */
export function simpleFormat(...args) {
  let i = 0;
  let out = "";
  if (typeof args[0] === "string") {
    const fmt = args[0];
    i = 1;
    out = fmt.replace(/%[sdifjoOc%]/g, (spec) => {
      if (spec === "%%") return "%";
      if (i >= args.length) return spec;
      const arg = args[i++];
      switch (spec) {
        case "%s":
          return typeof arg === "string" ? arg : inspect(arg, false);
        case "%d":
        case "%i":
          return typeof arg === "bigint"
            ? `${arg}n`
            : String(spec === "%i" ? Number.parseInt(arg, 10) : Number(arg));
        case "%f":
          return String(Number.parseFloat(arg));
        case "%j":
          try {
            return JSON.stringify(arg);
          } catch {
            return "[Circular]";
          }
        case "%c":
          return "";
        default:
          return inspect(arg, true);
      }
    });
  }
  for (; i < args.length; i++) {
    const arg = args[i];
    out += (out === "" && i === 0 ? "" : " ") + (typeof arg === "string" ? arg : inspect(arg, true));
  }
  return out;
}

function inspect(value, nested) {
  if (typeof Deno?.inspect === "function") {
    return Deno.inspect(value, {
      depth: nested ? 2 : 0,
      colors: false,
      compact: 3,
      strAbbreviateSize: 10000,
    });
  }
  return String(value);
}

/** Deno: Deno.serve on the unix socket, with a thin adapter giving the handlers node's (req, res). */
export function denoPlatform() {
  const removeSocket = (path) => {
    try {
      Deno.removeSync(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  };
  return {
    setEnv(vars) {
      for (const [name, value] of Object.entries(vars)) Deno.env.set(name, String(value));
    },
    // Buffer (Deno's Node layer) is first touched here, after the socket listens.
    readBody: async (req) => globalThis.Buffer.from(await req.request.arrayBuffer()),
    listen(path, handle, onReady) {
      removeSocket(path);
      const onListen = () => {
        // Any local user of the host may connect; the per-container socket directory is what guards it.
        Deno.chmodSync(path, 0o666);
        onReady();
      };
      const server = Deno.serve({ path, onListen }, (request) => {
        const req = denoRequest(request);
        return new Promise((resolve, reject) => {
          const res = new DenoResponse(resolve, reject);
          handle(req, res).then(
            () => res.finish(),
            (err) => res.destroy(err),
          );
        });
      });
      const stop = async () => {
        await server.shutdown().catch(() => {});
        removeSocket(path);
        Deno.exit(0);
      };
      Deno.addSignalListener("SIGTERM", stop);
      Deno.addSignalListener("SIGINT", stop);
    },
  };
}

/** The parts of node's IncomingMessage the handlers use: method, url (path + query), headers. */
function denoRequest(request) {
  const full = request.url;
  const slash = full.indexOf("/", full.indexOf("://") + 3);
  const headers = {};
  for (const [name, value] of request.headers) {
    if (name !== "set-cookie") headers[name] = value;
    else headers[name] = [...(headers[name] ?? []), value];
  }
  return { method: request.method, url: slash === -1 ? "/" : full.slice(slash), headers, request };
}

const nullBodyStatus = new Set([101, 103, 204, 205, 304]);
const encoder = new TextEncoder();
const toBytes = (chunk) => (typeof chunk === "string" ? encoder.encode(chunk) : new Uint8Array(chunk));

/**
 * The parts of node's ServerResponse the handlers use: writeHead, write, end, headersSent, destroy.
 * A response ended without earlier write() goes out in one piece; write() before end() streams it.
 */
class DenoResponse {
  headersSent = false;
  #resolve;
  #reject;
  #status = 200;
  #headers = new Headers();
  #controller;
  #settled = false;
  #ended = false;

  constructor(resolve, reject) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  writeHead(status, headers = {}) {
    this.#status = status;
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || value === null) continue;
      for (const v of Array.isArray(value) ? value : [value]) this.#headers.append(name, String(v));
    }
    this.headersSent = true;
    return this;
  }

  write(chunk) {
    if (this.#ended) return false;
    this.headersSent = true;
    if (!this.#settled) {
      this.#settled = true;
      if (nullBodyStatus.has(this.#status)) {
        this.#resolve(new Response(null, { status: this.#status, headers: this.#headers }));
      } else {
        const body = new ReadableStream({ start: (c) => (this.#controller = c) });
        this.#resolve(new Response(body, { status: this.#status, headers: this.#headers }));
      }
    }
    if (chunk !== undefined && chunk !== null && chunk.length !== 0)
      this.#controller?.enqueue(toBytes(chunk));
    return true;
  }

  end(chunk) {
    if (this.#ended) return this;
    this.headersSent = true;
    if (!this.#settled) {
      this.#settled = true;
      const body =
        nullBodyStatus.has(this.#status) || chunk === undefined || chunk === null ? null : toBytes(chunk);
      this.#resolve(new Response(body, { status: this.#status, headers: this.#headers }));
    } else if (chunk !== undefined && chunk !== null && chunk.length !== 0) {
      this.#controller?.enqueue(toBytes(chunk));
    }
    this.#ended = true;
    this.#controller?.close();
    return this;
  }

  finish() {
    if (!this.#ended) this.end();
  }

  destroy(err) {
    if (this.#ended) return;
    this.#ended = true;
    const error = err instanceof Error ? err : new Error("response destroyed");
    if (!this.#settled) {
      this.#settled = true;
      this.#reject(error);
    } else {
      this.#controller?.error(error);
    }
  }
}

// POSIX-only stand-ins for node:path and node:url (the containers are Linux).
export function denoFs() {
  const normalize = (path) => {
    const out = [];
    for (const part of path.split("/")) {
      if (part === "" || part === ".") continue;
      if (part === "..") out.pop();
      else out.push(part);
    }
    return `/${out.join("/")}`;
  };
  return {
    join: (...parts) => normalize(parts.join("/")),
    resolve: (base, path) =>
      normalize(
        path.startsWith("/") ? path : `${base.startsWith("/") ? base : `${Deno.cwd()}/${base}`}/${path}`,
      ),
    isFile: (path) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    },
    fileUrl: (path) => `file://${path.split("/").map(encodeURIComponent).join("/")}`,
    readText: (path) => Deno.readTextFileSync(path),
  };
}
