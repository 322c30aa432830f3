import { createHash } from "node:crypto";
import { builtinModules } from "node:module";
import { isAbsolute, join, posix, relative } from "node:path";
import { EDGE_HANDLER_SHAPES, KumoError } from "@kumo/core";
import {
  build,
  type ImportKind,
  type Loader,
  type Message,
  type Metafile,
  type OnResolveResult,
  type Plugin,
} from "esbuild";
import { joinEdgeScript } from "./edge-script.ts";
import {
  EDGE_PACKAGE_DIR,
  NODE_COMPAT_DIR,
  NODE_COMPAT_GLOBALS,
  NODE_COMPAT_LIST,
  NODE_COMPAT_MODULES,
  nodeModuleName,
} from "./node-compat-modules.ts";

export interface BundleOptions {
  /** Entry file in `files`; default: the first of ENTRY_CANDIDATES present. */
  entry?: string;
  /**
   * A directory holding `node_modules` (the function's installed npm dependencies): bare imports
   * resolve there, as for a browser or worker (exports conditions worker/browser, package.json
   * `browser` field). Without it, bare imports are refused.
   */
  nodeModulesDir?: string;
  /** Largest bundle accepted, in bytes (the code, not its source map); default DEFAULT_MAX_BUNDLE_BYTES. */
  maxBytes?: number;
  /** kumo.json's `compatibility`: with "nodejs", the Node built-ins of NODE_COMPAT_MODULES resolve. */
  compatibility?: readonly string[];
  /** kumo.json's `handlerShape`: one a container needs (node-http, wsgi...) is refused with FN_005. */
  handlerShape?: string;
}

/** 10 MiB: isolates load the whole bundle per version, and a bigger one is usually a mistake. */
export const DEFAULT_MAX_BUNDLE_BYTES = 10 * 1024 * 1024;

/** A package (or the function's own code) that imports a Node built-in edge isolates lack. */
interface RefusedBuiltin {
  /** The npm package name, or undefined for the function's own files. */
  pkg: string | undefined;
  module: string;
  importer: string;
}

const NODE_BUILTINS = new Set(builtinModules);
const isNodeBuiltin = (path: string) =>
  path.startsWith("node:") || NODE_BUILTINS.has(path) || NODE_BUILTINS.has(path.split("/")[0] ?? "");

/** The package a file in node_modules belongs to (the innermost one): "dayjs", "@scope/name". */
export function packageOfPath(path: string): string | undefined {
  const parts = path.replace(/\\/g, "/").split("/");
  const at = parts.lastIndexOf("node_modules");
  if (at < 0) return undefined;
  const first = parts[at + 1];
  if (!first) return undefined;
  return first.startsWith("@") && parts[at + 2] ? `${first}/${parts[at + 2]}` : first;
}

export interface EdgeBundle {
  /**
   * What is stored and loaded: a CommonJS script (module.exports) the isolate loader wraps and
   * evaluates, with its source map as the last line (edge-script.ts; the host splits it off).
   */
  code: string;
  /** sha256 of the stored script, hex. */
  digest: string;
  warnings: string[];
  /** Bytes of the bundled code alone, and of its source map. */
  codeBytes: number;
  sourceMapBytes: number;
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
/** Node built-ins a package's `browser` field maps to false: an empty module, as bundlers for browsers do. */
const DISABLED = "kumo-disabled";

const normalize = (path: string) => posix.normalize(path.replace(/\\/g, "/")).replace(/^(\.\/|\/)+/, "");

function filesPlugin(
  files: Map<string, string>,
  nodeModulesDir: string | undefined,
  refused: RefusedBuiltin[],
  nodeCompat: boolean,
): Plugin {
  return {
    name: "kumo-files",
    setup(b) {
      /** With "compatibility": ["nodejs"], the vetted implementation of a supported built-in. */
      const compatible = async (
        specifier: string,
        kind: ImportKind,
        importer: string,
      ): Promise<OnResolveResult | undefined> => {
        const target = nodeCompat ? NODE_COMPAT_MODULES[nodeModuleName(specifier)] : undefined;
        if (!target) return undefined;
        // node-compat/url.js asks for the "url/" package: never itself.
        if ("file" in target && !importer.startsWith(NODE_COMPAT_DIR)) {
          return { path: join(NODE_COMPAT_DIR, target.file) };
        }
        const pkg = "pkg" in target ? target.pkg : nodeModuleName(specifier);
        const found = await b.resolve(pkg, {
          kind,
          resolveDir: EDGE_PACKAGE_DIR,
          pluginData: { probe: true },
        });
        // Side-effect free (they are: each only defines its module), so the globals injected for
        // the layer cost nothing in a bundle that does not use them.
        if (found.errors.length === 0 && isAbsolute(found.path))
          return { path: found.path, sideEffects: false };
        return {
          errors: [
            {
              text: `the nodejs compatibility layer misses the npm package "${pkg}" (install @kumo/edge's dependencies)`,
            },
          ],
        };
      };
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== "entry-point") return undefined;
        // The Node layer's injected globals file is Kumo's, on disk; the entry is the user's.
        // Side-effect free, so a bundle that uses none of its globals does not carry them.
        if (NODE_COMPAT_GLOBALS.includes(args.path)) return { path: args.path, sideEffects: false };
        return { path: normalize(args.path), namespace: NAMESPACE };
      });
      const refuse = (module: string, importer: string, pkg: string | undefined) => {
        refused.push({ pkg, module, importer });
        return {
          errors: [
            {
              text: `${pkg ? `package "${pkg}"` : importer} imports the Node built-in "${module}", which edge functions do not have`,
            },
          ],
        };
      };
      // Files on disk are dependencies: esbuild resolves their imports itself, except Node built-ins,
      // which it is asked about first only to honour a package's own `browser` replacement for them.
      b.onResolve({ filter: /.*/, namespace: "file" }, async (args) => {
        if (args.pluginData?.probe === true || !isNodeBuiltin(args.path)) return undefined;
        const mapped = await b.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: { probe: true },
        });
        if (mapped.errors.length === 0) {
          // A `browser` field that maps the module to a file of the package, or to false (nothing).
          return isAbsolute(mapped.path)
            ? { path: mapped.path, sideEffects: mapped.sideEffects }
            : { path: args.path, namespace: DISABLED };
        }
        const compat = await compatible(args.path, args.kind, args.importer);
        if (compat) return compat;
        // Named from node_modules on, not by where this gateway keeps installs.
        const importer = nodeModulesDir ? relative(nodeModulesDir, args.importer) : args.importer;
        return refuse(args.path, importer, packageOfPath(args.importer));
      });
      b.onResolve({ filter: /.*/, namespace: NAMESPACE }, async (args) => {
        const relative =
          args.path.startsWith("./") || args.path.startsWith("../") || args.path.startsWith("/");
        if (!relative) {
          const builtin = isNodeBuiltin(args.path);
          const compat = builtin ? await compatible(args.path, args.kind, args.importer) : undefined;
          if (compat) return compat;
          if (builtin && (nodeModulesDir === undefined || args.path.startsWith("node:")))
            return refuse(args.path, args.importer, undefined);
          if (nodeModulesDir === undefined) {
            return {
              errors: [
                {
                  text: `import of "${args.path}" is not supported without dependencies: add it to "dependencies" in package.json`,
                },
              ],
            };
          }
          const found = await b.resolve(args.path, {
            kind: args.kind,
            resolveDir: nodeModulesDir,
            pluginData: { probe: true },
          });
          // "buffer", "events", "util"...: npm has browser versions of these; an installed one is used.
          if (found.errors.length === 0 && isAbsolute(found.path)) return found;
          if (builtin) return refuse(args.path, args.importer, undefined);
          if (found.errors.length > 0) {
            return {
              errors: [
                {
                  text: `cannot find package "${args.path}" imported from ${args.importer}: is it in "dependencies" in package.json?`,
                },
              ],
            };
          }
          return found;
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
      b.onLoad({ filter: /.*/, namespace: DISABLED }, () => ({
        contents: "module.exports = {};",
        loader: "js",
      }));
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
  if (options.handlerShape !== undefined && !isEdgeShape(options.handlerShape)) {
    throw new KumoError(
      "FN_005",
      `handlerShape "${options.handlerShape}" needs a container runtime ("node", "bun", "deno" or "python"): edge functions take ${EDGE_HANDLER_SHAPES.join(", ")}`,
      { details: { handlerShape: options.handlerShape, edgeShapes: [...EDGE_HANDLER_SHAPES] } },
    );
  }
  if (entry === undefined || !map.has(entry)) {
    throw new KumoError(
      "FN_006",
      options.entry === undefined
        ? `no entry file: add one of ${ENTRY_CANDIDATES.join(", ")} or set "handler"`
        : `entry file ${options.entry} is not among the uploaded files`,
    );
  }
  const refused: RefusedBuiltin[] = [];
  const withDependencies = options.nodeModulesDir !== undefined;
  const nodeCompat = options.compatibility?.includes("nodejs") ?? false;
  // Dependencies and the Node layer are resolved as a worker bundler does (the browser field,
  // worker/browser conditions); code without them keeps the neutral platform it always had.
  const browserLike = withDependencies || nodeCompat;
  let result: Awaited<ReturnType<typeof build>>;
  try {
    result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "cjs",
      platform: browserLike ? "browser" : "neutral",
      ...(browserLike ? { conditions: ["workerd", "worker", "browser"] } : {}),
      ...(withDependencies ? { absWorkingDir: options.nodeModulesDir } : {}),
      ...(nodeCompat ? { inject: [...NODE_COMPAT_GLOBALS] } : {}),
      target: "es2022",
      mainFields: browserLike ? ["browser", "module", "main"] : ["module", "main"],
      plugins: [filesPlugin(map, options.nodeModulesDir, refused, nodeCompat)],
      logLevel: "silent",
      // The map stays out of the isolate: the host maps stack frames with it (host/stack-mapper.ts).
      // Names are kept so stacks and `fn.name` say what the user wrote.
      outfile: "kumo-bundle.js",
      sourcemap: "external",
      sourcesContent: false,
      keepNames: true,
      charset: "utf8",
      metafile: browserLike,
    });
  } catch (error) {
    if (refused.length > 0) throw refusedBuiltins(refused, nodeCompat);
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
  const outputs = result.outputFiles ?? [];
  const code = outputs.find((o) => !o.path.endsWith(".map"))?.text ?? "";
  const rawMap = outputs.find((o) => o.path.endsWith(".map"))?.text;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  const bytes = Buffer.byteLength(code);
  if (bytes > maxBytes) {
    const biggest = biggestPackages(result.metafile);
    throw new KumoError(
      "FN_005",
      `the bundle is ${mib(bytes)}, over the ${mib(maxBytes)} limit for edge functions${biggest.length > 0 ? ` (largest parts: ${biggest.map(([name, size]) => `${name} ${mib(size)}`).join(", ")})` : ""}: import less (a package's submodules rather than its index), or use the node runtime`,
      { details: { bytes, maxBytes, largest: Object.fromEntries(biggest) } },
    );
  }
  const sourceMap = rawMap === undefined ? undefined : userSourceMap(rawMap);
  const script = sourceMap === undefined ? code : joinEdgeScript(code, sourceMap);
  return {
    code: script,
    digest: createHash("sha256").update(script).digest("hex"),
    warnings: result.warnings.map(describe),
    codeBytes: bytes,
    sourceMapBytes: sourceMap === undefined ? 0 : Buffer.byteLength(sourceMap),
  };
}

/** The Node modules the flag enables, as the refusal lists them. */
const NODE_COMPAT_MODULE_NAMES = `${NODE_COMPAT_LIST.map((name) => `node:${name}`).join(", ")} (crypto: hashes, HMAC, random, webcrypto)`;

const isEdgeShape = (shape: string): boolean => (EDGE_HANDLER_SHAPES as readonly string[]).includes(shape);

/**
 * The source map with sources named as the user knows them: "src/lib.ts" (not esbuild's
 * "kumo-files:src/lib.ts"), "node_modules/dayjs/index.js", "kumo:node/crypto.js" for the Node layer.
 */
function userSourceMap(raw: string): string {
  const map = JSON.parse(raw) as { sources?: string[] };
  map.sources = (map.sources ?? []).map((source) => {
    const path = source.replace(/\\/g, "/");
    if (path.startsWith(`${NAMESPACE}:`)) return path.slice(NAMESPACE.length + 1);
    const compat = path.lastIndexOf("/node-compat/");
    if (compat >= 0 && !path.includes("/node_modules/")) return `kumo:node/${path.slice(compat + 13)}`;
    const modules = path.lastIndexOf("node_modules/");
    return modules >= 0 ? path.slice(modules) : path;
  });
  return JSON.stringify(map);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function refusedBuiltins(refused: RefusedBuiltin[], nodeCompat: boolean): KumoError {
  // Grouped by who needs them: `package "graceful-fs" needs "fs", "util"`.
  const byNeeder = new Map<string, Set<string>>();
  for (const r of refused) {
    const needer = r.pkg ? `package "${r.pkg}"` : r.importer;
    byNeeder.set(needer, (byNeeder.get(needer) ?? new Set()).add(`"${r.module}"`));
  }
  const said = [...byNeeder]
    .slice(0, 5)
    .map(([needer, modules]) => `${needer} needs ${[...modules].join(", ")}`)
    .join("; ");
  return new KumoError(
    "FN_005",
    `build failed: ${said}: edge functions run in an isolate without Node built-in modules (fs, net, child_process, ...); use a package made for browsers or workers, or the node runtime. ${nodeCompat ? 'With "compatibility": ["nodejs"] edge has only' : '"compatibility": ["nodejs"] in kumo.json enables'} ${NODE_COMPAT_MODULE_NAMES}`,
    {
      details: {
        builtins: refused
          .slice(0, 50)
          .map((r) => ({ package: r.pkg ?? null, module: r.module, importer: r.importer })),
      },
    },
  );
}

/** Output bytes per package (the function's own files as "(your code)"), largest first. */
function biggestPackages(metafile: Metafile | undefined): [string, number][] {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile?.outputs ?? {})) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const name = packageOfPath(path) ?? "(your code)";
      sizes.set(name, (sizes.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...sizes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
}
