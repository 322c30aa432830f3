import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { gzipSync } from "node:zlib";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".ttf": "font/ttf",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".d.ts": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};
const COMPRESSIBLE = /^(text\/|application\/json|image\/svg)/;

/** One file of the built console, with its gzipped form made on first demand. */
export interface ConsoleAsset {
  readonly type: string;
  readonly body: Buffer;
  /** True for Vite's content-hashed files under assets/: they never change, so they cache forever. */
  readonly immutable: boolean;
  gzipped(): Buffer | undefined;
}

/**
 * The built console (packages/console/dist) held in memory: a few MB, read once at startup, so
 * serving it touches neither the disk nor a bundler. A missing build leaves it empty: `/` then says
 * how to build it.
 */
export class ConsoleAssets {
  readonly #files = new Map<string, ConsoleAsset>();
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    if (existsSync(join(dir, "index.html"))) this.#load(dir);
  }

  get built(): boolean {
    return this.#files.has("index.html");
  }

  /** A file by its path under dist ("assets/index-abc.js"), or undefined. */
  get(path: string): ConsoleAsset | undefined {
    return this.#files.get(path);
  }

  #load(dir: string): void {
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || entry.name.startsWith(".")) continue;
      const full = join(entry.parentPath, entry.name);
      if (statSync(full).size > 32 * 1024 * 1024) continue;
      const path = relative(dir, full).split(sep).join("/");
      const type = CONTENT_TYPES[entry.name.endsWith(".d.ts") ? ".d.ts" : extname(entry.name)];
      if (!type) continue;
      const body = readFileSync(full);
      let gz: Buffer | undefined | null =
        COMPRESSIBLE.test(type) && body.byteLength > 1024 ? null : undefined;
      this.#files.set(path, {
        type,
        body,
        immutable: path.startsWith("assets/"),
        gzipped() {
          if (gz === null) gz = gzipSync(body, { level: 6 });
          return gz;
        },
      });
    }
  }
}
