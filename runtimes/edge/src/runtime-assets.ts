import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

/** What the provider needs to start isolate hosts: the host entry on disk and the bootstrap text. */
export interface RuntimeAssets {
  hostEntry: string;
  ivmPath: string;
  bootstrap: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/**
 * whatwg-url's heavy optional parts are replaced: tr46's 240 KB IDNA table by a small punycode
 * version, and the legacy multi-byte encodings (only used by non-UTF-8 form encoding) by nothing.
 */
const slimUrl: Plugin = {
  name: "kumo-slim-url",
  setup(b) {
    b.onResolve({ filter: /^tr46$/ }, () => ({ path: join(here, "inside", "tr46-lite.js") }));
    b.onResolve({ filter: /^@exodus\/bytes\/encoding\.js$/ }, () => ({
      path: "empty",
      namespace: "kumo-empty",
    }));
    b.onLoad({ filter: /.*/, namespace: "kumo-empty" }, () => ({ contents: "", loader: "js" }));
  },
};

/**
 * fetch-blob (Blob/File) starts with a top-level `await import("node:stream/web")` for Node without
 * stream globals; the isolate has its own streams (lazy globals), and a script cannot await at
 * top level, so that prelude is cut. formdata-polyfill's nested older copy (which would pull in
 * Node's `buffer`) is replaced by the same one, through its default exports.
 */
const isolateBlob: Plugin = {
  name: "kumo-isolate-blob",
  setup(b) {
    const blobDir = dirname(require.resolve("fetch-blob/package.json"));
    const files = { "fetch-blob": "index.js", "fetch-blob/file.js": "file.js" } as const;
    b.onResolve({ filter: /^fetch-blob(\/file\.js)?$/ }, (args) => {
      const file = files[args.path as keyof typeof files];
      if (args.importer.includes("formdata-polyfill")) return { path: file, namespace: "kumo-blob-default" };
      return { path: join(blobDir, file) };
    });
    b.onLoad({ filter: /.*/, namespace: "kumo-blob-default" }, (args) => ({
      contents: `export { ${args.path === "index.js" ? "Blob" : "File"} as default } from ${JSON.stringify(join(blobDir, args.path))};`,
      loader: "js",
      resolveDir: blobDir,
    }));
    b.onLoad({ filter: /fetch-blob[\\/]index\.js$/ }, async (args) => {
      const text = await readFile(args.path, "utf8");
      const prelude = /^if \(!globalThis\.ReadableStream\) \{[\s\S]*?\n\}\n/m;
      if (!prelude.test(text))
        throw new Error(`fetch-blob changed: no stream prelude to remove in ${args.path}`);
      return { contents: text.replace(prelude, ""), loader: "js" };
    });
  },
};

let cached: Promise<RuntimeAssets> | null = null;

/** Bundles the bootstrap and the host entry once per process (esbuild, ~100 ms). */
export function loadRuntimeAssets(): Promise<RuntimeAssets> {
  cached ??= buildAssets().catch((error: unknown) => {
    cached = null;
    throw error;
  });
  return cached;
}

async function buildAssets(): Promise<RuntimeAssets> {
  const [inside, hostBundle] = await Promise.all([
    build({
      entryPoints: [join(here, "inside", "bootstrap.js")],
      bundle: true,
      write: false,
      format: "iife",
      platform: "neutral",
      mainFields: ["module", "main"],
      target: "es2022",
      minify: true,
      // Web platform classes keep their IDL names (code logs and compares `constructor.name`).
      keepNames: true,
      legalComments: "none",
      define: { global: "globalThis" },
      plugins: [slimUrl, isolateBlob],
      logLevel: "silent",
    }),
    build({
      entryPoints: [join(here, "host", "isolate-host.ts")],
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "node20",
      external: ["isolated-vm"],
      logLevel: "silent",
    }),
  ]);
  const insideCode = inside.outputFiles[0]?.text;
  const hostCode = hostBundle.outputFiles[0]?.text;
  if (!insideCode || !hostCode) throw new Error("edge runtime bundle produced no output");
  // The script's completion value is the internal object; it never stays on the global.
  const bootstrap = `${insideCode}\n;(()=>{const k=globalThis.__kumo_internal;delete globalThis.__kumo_internal;return k})()`;
  const digest = createHash("sha256").update(hostCode).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), "kumo-edge");
  await mkdir(dir, { recursive: true });
  const hostEntry = join(dir, `isolate-host-${digest}.mjs`);
  await writeFile(hostEntry, hostCode);
  return { hostEntry, ivmPath: require.resolve("isolated-vm"), bootstrap };
}
