// Finds and imports the function's module and decides which handler shape it has (the rule shared
// with edge isolates: runtimes/shared/handler-shape.mjs).
//   "index"          -> <codeDir>/index.{ts,mts,js,mjs,cjs}, shape detected from its exports
//   "index.handler"  -> the same module, export "handler"
//   "src/app.ts"     -> that file, shape detected
// `handlerShape` in <codeDir>/kumo.json (or KUMO_HANDLER_SHAPE) names the shape instead of the guess.
// While the module loads, Deno.serve and (on node and bun) http.Server#listen are captured rather
// than run, so a Deno Deploy module or an Express app that calls app.listen() loads unmodified.
// On Deno the file checks use Deno APIs so that loading a baked handler does not start Deno's Node
// compatibility layer before the socket listens (see runtimes/deno/README.md).
import { capturingServe } from "../../shared/deno-serve.mjs";
import { detectShape, NODE_ONLY_SHAPES, noShapeError } from "../../shared/handler-shape.mjs";
import { defineAwsLambdaGlobal } from "./lambda-streaming.mjs";
import { deno, getEnv, isDeno, nodeRequire } from "./logs.mjs";
import { nodeHttpRunner } from "./node-http-handler.mjs";
import { elideTypeOnlyImports } from "./type-only-imports.mjs";

const { join, resolve, isFile, fileUrl, readText } = isDeno ? deno.denoFs() : nodeFs();

const extensions = [".ts", ".mts", ".js", ".mjs", ".cjs"];

/**
 * `step` is the module's `step(input, context)` when it exports one (runtimes/shared/step.mjs): step
 * invocations call it, whatever the handler shape; a module with only a step has kind "step".
 * `run` is set for the Node shapes (node-http, node-app): it sends one invocation through them.
 * @returns {Promise<{ kind: string, target: any, step: Function | undefined, run?: Function }>}
 */
export async function loadHandler(codeDir, spec) {
  const { file, exportName } = resolveSpec(codeDir, spec || "index");
  const declared = declaredShape(codeDir);
  const capture = captureWhileLoading(file);
  // Lambda code calls awslambda.streamifyResponse at the top of its module.
  defineAwsLambdaGlobal();
  // Bun and Deno drop imports used only as types themselves; Node needs the hook.
  if (!isDeno && globalThis.Bun === undefined && /\.m?ts$/.test(file)) elideTypeOnlyImports();
  let mod;
  try {
    mod = await import(fileUrl(file));
  } finally {
    capture.restore();
  }
  const stepExport = mod.step ?? mod.default?.step;
  const step = typeof stepExport === "function" ? stepExport : undefined;
  const options = { exportName, served: capture.served(), listened: capture.listened(), declared };
  const found = detectShape(mod, options);
  if (!found) throw noShapeError(file, options);
  if (NODE_ONLY_SHAPES.includes(found.shape)) {
    const run = await nodeHttpRunner(found.shape, found.target, { listen: capture.originalListen });
    return { kind: found.shape, target: found.target, step, run };
  }
  return { kind: found.shape, target: found.target, step };
}

/** kumo.json's handlerShape, or KUMO_HANDLER_SHAPE; undefined when neither says. */
function declaredShape(codeDir) {
  const fromEnv = getEnv("KUMO_HANDLER_SHAPE");
  if (fromEnv) return fromEnv;
  const path = join(codeDir, "kumo.json");
  if (!isFile(path)) return undefined;
  try {
    const shape = JSON.parse(readText(path)).handlerShape;
    return typeof shape === "string" ? shape : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Installs the captures for the module's load. On Deno, Deno.serve itself is swapped for the
 * capturing one and put back after (the shim serves with the real one). On node and bun a small
 * `Deno` global ({ serve, env }) is defined only when the entry file mentions `Deno.`: libraries
 * that check for a `Deno` global would otherwise take node for Deno.
 */
function captureWhileLoading(file) {
  const serve = capturingServe();
  const restores = [];
  if (isDeno) {
    const real = Deno.serve;
    const denoNs = /** @type {any} */ (Deno);
    try {
      denoNs.serve = serve.serve;
    } catch {}
    if (denoNs.serve !== serve.serve) {
      Object.defineProperty(denoNs, "serve", { value: serve.serve, configurable: true, writable: true });
    }
    restores.push(() =>
      Object.defineProperty(denoNs, "serve", { value: real, configurable: true, writable: true }),
    );
  } else if (globalThis.Deno === undefined && readText(file).includes("Deno.")) {
    Object.defineProperty(globalThis, "Deno", {
      value: Object.freeze({ serve: serve.serve, env: denoEnv() }),
      configurable: true,
      writable: false,
    });
  }
  /** @type {unknown} */
  let listened;
  let originalListen;
  if (!isDeno) {
    const proto = nodeRequire("node:http").Server.prototype;
    originalListen = proto.listen;
    /** @this {any} */
    proto.listen = function capturedListen(...args) {
      listened ??= this;
      // Looks bound (frameworks log the address they listen on) without holding a port.
      const port = typeof args[0] === "number" ? args[0] : Number(args[0]?.port) || 0;
      this.address = () => ({ address: "127.0.0.1", family: "IPv4", port });
      const callback = args.find((a) => typeof a === "function");
      queueMicrotask(() => {
        this.emit("listening");
        callback?.();
      });
      return this;
    };
    const own = Object.hasOwn(proto, "listen");
    restores.push(() => {
      if (own) proto.listen = originalListen;
      else delete proto.listen;
    });
  }
  return {
    restore: () => {
      for (const undo of restores) undo();
    },
    served: serve.captured,
    listened: () => listened,
    originalListen,
  };
}

/** Deno.env over process.env, for Deno code run by node or bun. */
function denoEnv() {
  return Object.freeze({
    get: (name) => process.env[name],
    set: (name, value) => {
      process.env[name] = String(value);
    },
    has: (name) => name in process.env,
    delete: (name) => {
      delete process.env[name];
    },
    toObject: () => ({ ...process.env }),
  });
}

function resolveSpec(codeDir, spec) {
  const direct = resolve(codeDir, spec);
  if (isFile(direct)) return { file: direct, exportName: undefined };
  const dot = spec.lastIndexOf(".");
  const candidates = [{ base: spec, exportName: undefined }];
  if (dot > 0 && !spec.slice(dot).includes("/")) {
    candidates.unshift({ base: spec.slice(0, dot), exportName: spec.slice(dot + 1) });
  }
  for (const { base, exportName } of candidates) {
    const root = resolve(codeDir, base);
    if (isFile(root)) return { file: root, exportName };
    for (const ext of extensions) if (isFile(root + ext)) return { file: root + ext, exportName };
    for (const ext of extensions) {
      const index = join(root, `index${ext}`);
      if (isFile(index)) return { file: index, exportName };
    }
  }
  throw new Error(`handler "${spec}" not found in ${codeDir} (tried ${extensions.join(", ")})`);
}

function nodeFs() {
  const { existsSync, readFileSync, statSync } = nodeRequire("node:fs");
  const { join, resolve } = nodeRequire("node:path");
  const { pathToFileURL } = nodeRequire("node:url");
  return {
    join,
    resolve,
    isFile: (path) => existsSync(path) && statSync(path).isFile(),
    fileUrl: (path) => pathToFileURL(path).href,
    readText: (path) => readFileSync(path, "utf8"),
  };
}
