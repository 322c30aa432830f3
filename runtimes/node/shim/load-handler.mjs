// Finds and imports the function's module and decides which handler shape it has.
//   "index"          -> <codeDir>/index.{ts,mts,js,mjs,cjs}, shape detected from its exports
//   "index.handler"  -> the same module, export "handler"
//   "src/app.ts"     -> that file, shape detected
// On Deno the file checks use Deno APIs so that loading a baked handler does not start Deno's Node
// compatibility layer before the socket listens (see runtimes/deno/README.md).
import { deno, isDeno, nodeRequire } from "./logs.mjs";

const { join, resolve, isFile, fileUrl } = isDeno ? deno.denoFs() : nodeFs();

const extensions = [".ts", ".mts", ".js", ".mjs", ".cjs"];

/**
 * `step` is the module's `step(input, context)` when it exports one (runtimes/shared/step.mjs): step
 * invocations call it, whatever the handler shape; a module with only a step has kind "step".
 * @returns {Promise<{ kind: "workers" | "lambda" | "step", target: any, step: Function | undefined }>}
 */
export async function loadHandler(codeDir, spec) {
  const { file, exportName } = resolveSpec(codeDir, spec || "index");
  const mod = await import(fileUrl(file));
  const stepExport = mod.step ?? mod.default?.step;
  const step = typeof stepExport === "function" ? stepExport : undefined;
  if (exportName === "step" && step) return { kind: "step", target: step, step };
  const picked = exportName ? pick(mod, exportName) : autodetect(mod);
  if (picked && typeof picked.fetch === "function") return { kind: "workers", target: picked, step };
  if (typeof picked === "function") return { kind: "lambda", target: picked, step };
  if (!exportName && step) return { kind: "step", target: step, step };
  const wanted = exportName
    ? `export "${exportName}"`
    : 'a default export with fetch(), an export "handler" or an export "step"';
  throw new Error(`${file} has no usable handler: expected ${wanted}`);
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

function pick(mod, name) {
  if (name === "default") return mod.default;
  return mod[name] ?? mod.default?.[name];
}

function autodetect(mod) {
  if (typeof mod.default?.fetch === "function") return mod.default;
  return mod.handler ?? mod.default?.handler ?? mod.default;
}

function nodeFs() {
  const { existsSync, statSync } = nodeRequire("node:fs");
  const { join, resolve } = nodeRequire("node:path");
  const { pathToFileURL } = nodeRequire("node:url");
  return {
    join,
    resolve,
    isFile: (path) => existsSync(path) && statSync(path).isFile(),
    fileUrl: (path) => pathToFileURL(path).href,
  };
}
