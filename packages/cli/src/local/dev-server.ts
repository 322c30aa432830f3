import { type FSWatcher, watch } from "node:fs";
import { readdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { errorResult, HOP_BY_HOP_HEADERS } from "@kumo/core";
import { ALWAYS_IGNORED } from "../ignore-rules.ts";
import { CONFIG_FILE } from "../project-config.ts";
import { DOT_ENV, type LocalFunction, loadLocalFunction } from "./local-function.ts";
import { httpInvocation } from "./local-invocation.ts";
import type { LocalResult, LocalRunner } from "./local-runner.ts";

export interface DevServerOptions {
  host: string;
  port: number;
  /** Wait this long after the last change before reloading (editors write files in bursts). */
  debounceMs: number;
  /** Each served request, for the terminal. */
  onRequest(method: string, path: string, result: LocalResult, durationMs: number): void;
  onReload(outcome: { changed: string[]; durationMs: number; error?: unknown }): void;
}

/**
 * `kumo dev`'s server: HTTP on host:port, each request one invocation of the function as the gateway
 * would forward it; the directory is watched, and a change reloads the function (re-read kumo.json,
 * .env and the files, rebundle, fresh isolate or shim). A reload that fails (a syntax error) is
 * reported and the previous code keeps serving.
 */
export class DevServer {
  readonly #runner: LocalRunner;
  readonly #options: DevServerOptions;
  readonly #server: Server;
  #fn: LocalFunction;
  /** One watcher per directory: Node 20's recursive fs.watch on Linux loses files that editors replace by renaming. */
  readonly #watchers = new Map<string, FSWatcher>();
  #timer: NodeJS.Timeout | undefined;
  #changed = new Set<string>();
  /** Requests wait for a reload in progress, so none runs half-loaded code. */
  #loading: Promise<void> = Promise.resolve();

  constructor(fn: LocalFunction, runner: LocalRunner, options: DevServerOptions) {
    this.#fn = fn;
    this.#runner = runner;
    this.#options = options;
    this.#server = createServer((req, res) => {
      this.#serve(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: "FN_500", message: (error as Error).message } }));
      });
    });
  }

  /** Listens and starts watching; resolves with the URL it serves. */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#options.port, this.#options.host, () => resolve());
    });
    await this.#watchTree();
    const { port } = this.#server.address() as AddressInfo;
    return `http://${this.#options.host}:${port}/`;
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#loading;
  }

  #reload(): void {
    const changed = [...this.#changed].sort();
    this.#changed.clear();
    const started = performance.now();
    this.#loading = this.#loading.then(async () => {
      try {
        const fn = await loadLocalFunction(this.#fn.dir);
        await this.#runner.load(fn);
        const previous = this.#fn;
        this.#fn = fn;
        await this.#watchTree();
        // Editors' temporary files come and go; name what belongs to the function.
        const relevant = changed.filter(
          (path) => path in fn.files || path in previous.files || path === CONFIG_FILE || path === DOT_ENV,
        );
        this.#options.onReload({ changed: relevant, durationMs: performance.now() - started });
      } catch (error) {
        this.#options.onReload({ changed, durationMs: performance.now() - started, error });
      }
    });
  }

  /** Watches the function's directory and each subdirectory a deploy would look into. */
  async #watchTree(): Promise<void> {
    const root = this.#fn.dir;
    const dirs = new Set<string>([""]);
    const walk = async (rel: string): Promise<void> => {
      for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
        const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
        if (!entry.isDirectory() || ALWAYS_IGNORED.includes(`${path}/` as (typeof ALWAYS_IGNORED)[number]))
          continue;
        dirs.add(path);
        await walk(path);
      }
    };
    await walk("").catch(() => undefined);
    for (const [dir, watcher] of this.#watchers) {
      if (!dirs.has(dir)) {
        watcher.close();
        this.#watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.#watchers.has(dir)) continue;
      const watcher = watch(join(root, dir), (_event, name) => {
        if (name === null) return;
        this.#changed.add(dir === "" ? name.toString() : `${dir}/${name.toString()}`);
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => this.#reload(), this.#options.debounceMs);
      });
      watcher.on("error", () => undefined);
      this.#watchers.set(dir, watcher);
    }
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.#loading;
    const fn = this.#fn;
    const started = performance.now();
    const path = req.url ?? "/";
    const body = await readRequestBody(req, fn.config.maxBodyBytes);
    let result: LocalResult;
    if (body === "too large") {
      const failed = errorResult({
        code: "FN_010",
        message: `request body exceeds this function's limit of ${fn.config.maxBodyBytes} bytes (kumo.json maxBodyBytes)`,
      });
      result = { ...failed, body: failed.body instanceof Uint8Array ? failed.body : new Uint8Array(0) };
    } else {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined || HOP_BY_HOP_HEADERS.has(name) || name.startsWith("kumo-")) continue;
        headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      const request = httpInvocation(
        { method: req.method ?? "GET", path, headers, body: body.byteLength > 0 ? body : null },
        fn.config,
      );
      result = await this.#runner.invoke(request).catch((error: unknown) => {
        const failed = errorResult({
          code: "FN_500",
          message: `kumo dev could not run it: ${(error as Error).message}`,
        });
        return { ...failed, body: failed.body instanceof Uint8Array ? failed.body : new Uint8Array(0) };
      });
    }
    const headers: [string, string][] = result.headers.filter(([name]) => !HOP_BY_HOP_HEADERS.has(name));
    res.writeHead(result.status, headers.flat());
    res.end(result.body);
    this.#options.onRequest(req.method ?? "GET", path, result, performance.now() - started);
  }
}

async function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer | "too large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) return "too large";
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
