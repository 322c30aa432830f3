import { createHash } from "node:crypto";
import { posix } from "node:path";
import { KumoError } from "@kumo/core";
import { build, type Loader, type Message, type Plugin } from "esbuild";

export interface BundleOptions {
  /** Entry file in `files`; default: the first of ENTRY_CANDIDATES present. */
  entry?: string;
}

export interface EdgeBundle {
  /** A CommonJS script (module.exports) the isolate loader wraps and evaluates. */
  code: string;
  /** sha256 of the code, hex. */
  digest: string;
  warnings: string[];
}

export const ENTRY_CANDIDATES = [
  "index.ts",
  "index.js",
  "index.mjs",
  "worker.ts",
  "worker.js",
  "src/index.ts",
  "src/index.js",
  "src/worker.ts",
  "src/worker.js",
  "handler.ts",
  "handler.js",
  "main.ts",
  "main.js",
] as const;

const LOADERS: Record<string, Loader> = {
  ".ts": "ts",
  ".mts": "ts",
  ".cts": "ts",
  ".tsx": "tsx",
  ".js": "js",
  ".mjs": "js",
  ".cjs": "js",
  ".jsx": "jsx",
  ".json": "json",
  ".txt": "text",
};
const RESOLVE_EXTENSIONS = ["", ".ts", ".tsx", ".js", ".mjs", ".jsx", ".json", "/index.ts", "/index.js"];
const NAMESPACE = "kumo-files";

const normalize = (path: string) => posix.normalize(path.replace(/\\/g, "/")).replace(/^(\.\/|\/)+/, "");

function filesPlugin(files: Map<string, string>): Plugin {
  return {
    name: "kumo-files",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === "entry-point") return { path: normalize(args.path), namespace: NAMESPACE };
        const relative =
          args.path.startsWith("./") || args.path.startsWith("../") || args.path.startsWith("/");
        if (!relative) {
          return {
            errors: [
              {
                text: `import of "${args.path}" is not supported: edge functions may only import their own files for now (bundle npm packages into your source)`,
              },
            ],
          };
        }
        const base = args.path.startsWith("/")
          ? args.path
          : posix.join(posix.dirname(args.importer), args.path);
        const wanted = normalize(base);
        for (const ext of RESOLVE_EXTENSIONS) {
          if (files.has(wanted + ext)) return { path: wanted + ext, namespace: NAMESPACE };
        }
        // "./x.js" written for a TypeScript file x.ts, as tsc wants it.
        const swapped = wanted.replace(/\.(m|c)?js$/, ".$1ts");
        if (files.has(swapped)) return { path: swapped, namespace: NAMESPACE };
        return { errors: [{ text: `cannot find "${args.path}" imported from ${args.importer}` }] };
      });
      b.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => {
        const contents = files.get(args.path);
        if (contents === undefined) return { errors: [{ text: `file not found: ${args.path}` }] };
        return {
          contents,
          loader: LOADERS[posix.extname(args.path)] ?? "js",
          resolveDir: posix.dirname(args.path),
        };
      });
    },
  };
}

const fileOf = (m: Message) => m.location?.file.replace(`${NAMESPACE}:`, "");
const describe = (m: Message) =>
  m.location ? `${fileOf(m)}:${m.location.line}:${m.location.column + 1} ${m.text}` : m.text;

/**
 * Bundles an edge function's files (TypeScript, relative imports) into one script, in memory: the
 * files map is the whole world, nothing is read from disk. Build errors are FN_005 with the place.
 */
export async function bundleEdgeFunction(
  files: Record<string, string>,
  options: BundleOptions = {},
): Promise<EdgeBundle> {
  const map = new Map(Object.entries(files).map(([path, content]) => [normalize(path), content]));
  const entry =
    options.entry === undefined ? ENTRY_CANDIDATES.find((c) => map.has(c)) : normalize(options.entry);
  if (entry === undefined || !map.has(entry)) {
    throw new KumoError(
      "FN_006",
      options.entry === undefined
        ? `no entry file: add one of ${ENTRY_CANDIDATES.join(", ")} or set "handler"`
        : `entry file ${options.entry} is not among the uploaded files`,
    );
  }
  let result: Awaited<ReturnType<typeof build>>;
  try {
    result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "cjs",
      platform: "neutral",
      target: "es2022",
      mainFields: ["module", "main"],
      plugins: [filesPlugin(map)],
      logLevel: "silent",
      sourcemap: false,
      charset: "utf8",
    });
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors ?? [];
    const first = errors[0];
    if (!first) throw new KumoError("FN_005", `build failed: ${(error as Error).message}`);
    throw new KumoError("FN_005", `build failed: ${describe(first)}`, {
      details: {
        file: fileOf(first),
        line: first.location?.line,
        column: first.location ? first.location.column + 1 : undefined,
        errors: errors.slice(0, 20).map(describe),
      },
    });
  }
  const code = result.outputFiles?.[0]?.text ?? "";
  return {
    code,
    digest: createHash("sha256").update(code).digest("hex"),
    warnings: result.warnings.map(describe),
  };
}
