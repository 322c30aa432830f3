import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Kumo's own node-compat files, bundled into functions that opt in (node-compat/*.js). */
export const NODE_COMPAT_DIR = join(dirname(fileURLToPath(import.meta.url)), "node-compat");

/** The edge package's directory: the vetted npm implementations resolve from here. */
export const EDGE_PACKAGE_DIR = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * Node built-ins an edge function gets with `"compatibility": ["nodejs"]`, and what each resolves
 * to: an npm package made for browsers (resolved from this package's dependencies) or a file of
 * node-compat/. Everything else (fs, net, child_process, ...) is still refused at deploy.
 */
export const NODE_COMPAT_MODULES: Readonly<Record<string, { pkg: string } | { file: string }>> = {
  buffer: { pkg: "buffer" },
  events: { pkg: "events" },
  util: { pkg: "util" },
  stream: { pkg: "readable-stream" },
  "stream/promises": { file: "stream-promises.js" },
  path: { pkg: "path-browserify" },
  "path/posix": { pkg: "path-browserify" },
  url: { file: "url.js" },
  assert: { pkg: "assert" },
  "assert/strict": { file: "assert-strict.js" },
  string_decoder: { pkg: "string_decoder" },
  crypto: { file: "crypto.js" },
  process: { file: "process.js" },
};

/** Files injected into opted-in bundles for the `Buffer`, `process` and `global` globals. */
export const NODE_COMPAT_GLOBALS: readonly string[] = [
  "buffer-global.js",
  "process-global.js",
  "global-global.js",
].map((file) => join(NODE_COMPAT_DIR, file));

/** "node:util", "util" and "util/" (browserify's way to ask for the npm package) all name "util". */
export const nodeModuleName = (specifier: string): string =>
  specifier.replace(/^node:/, "").replace(/\/$/, "");

/** The built-ins the flag enables, as error messages list them. */
export const NODE_COMPAT_LIST = Object.keys(NODE_COMPAT_MODULES).filter((name) => !name.includes("/"));
