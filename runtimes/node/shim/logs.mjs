// Turns everything the function prints into JSON lines on the container's stdout:
// {"ts":<epoch ms>,"level":"info","invocationId":"…"|null,"message":"…"}.
// The invocation id comes from an AsyncLocalStorage set around each invocation, so concurrent
// invocations keep their own lines apart. Plain JS, no dependencies: node, bun and deno run it.
//
// On Deno nothing here touches Deno's Node compatibility layer before the socket listens (the first
// use of `process`, `Buffer`, `node:util` or `node:module` starts it, ~40–50 ms; see
// runtimes/deno/README.md): lines go out with Deno.stdout.writeSync, console.* uses the small
// `format` below, process.stdout/stderr are patched on first use of the `process` global, and
// node:async_hooks (~8 ms) is imported by the first invocation.

export const isDeno = typeof globalThis.Deno?.serve === "function";

/** The Deno-only helpers (./deno.mjs), undefined on node and bun. */
export const deno = isDeno ? await import("./deno.mjs") : undefined;

/**
 * require() for builtins on node and bun (process.getBuiltinModule, Node 22.3+ and Bun; see main.mjs
 * for why not `import`). Null on Deno, where the shim uses Deno APIs instead: node:module and
 * `process` would start the Node compatibility layer before the socket listens.
 */
export const nodeRequire = isDeno ? null : (id) => process.getBuiltinModule(id);
const utilFormat = isDeno ? undefined : nodeRequire("node:util").format;

let storage = isDeno ? undefined : new (nodeRequire("node:async_hooks").AsyncLocalStorage)();

/** Holds `{ invocationId }` for the code running inside one invocation (an AsyncLocalStorage). */
export const invocationScope = {
  getStore: () => storage?.getStore(),
  /** Runs fn with the store; async because on Deno the first call imports node:async_hooks. */
  async run(store, fn) {
    storage ??= new (await import("node:async_hooks")).AsyncLocalStorage();
    return storage.run(store, fn);
  },
};

const rawWrite = isDeno ? deno.denoWriter() : process.stdout.write.bind(process.stdout);

/** Environment variable lookup that does not start Deno's Node layer. */
export function getEnv(name) {
  return isDeno ? Deno.env.get(name) : process.env[name];
}

/** Writes one log line; the shim's own lines carry invocationId null unless inside an invocation. */
export function emit(level, message, extra) {
  const scope = invocationScope.getStore();
  const invocationId = scope?.invocationId ?? null;
  const line = { ts: Date.now(), level, invocationId, message, ...extra };
  // A workflow step also returns its lines with its outcome (invoke.mjs).
  if (scope?.lines && scope.lines.length < 200) scope.lines.push({ ts: line.ts, level, message });
  rawWrite(`${JSON.stringify(line)}\n`);
}

const consoleLevels = {
  debug: "debug",
  log: "info",
  info: "info",
  warn: "warn",
  error: "error",
  trace: "debug",
};

/** Routes console.* and direct process.stdout/stderr writes through emit(). */
export function captureOutput() {
  const format = utilFormat ?? deno.simpleFormat;
  for (const [method, level] of Object.entries(consoleLevels)) {
    console[method] = (...args) => {
      const text = format(...args);
      emit(
        level,
        method === "trace" ? `${text}\n${new Error().stack?.split("\n").slice(2).join("\n")}` : text,
      );
    };
  }
  if (isDeno) patchProcessLazily();
  else patchStreams(process);
}

function patchStreams(proc) {
  proc.stdout.write = writerFor("info");
  proc.stderr.write = writerFor("error");
}

// Deno defines `process` as a configurable getter on globalThis; wrap it so the streams are patched
// the first time anything reads `process`, not at start. Falls back to patching right away.
function patchProcessLazily() {
  const desc = Object.getOwnPropertyDescriptor(globalThis, "process");
  if (!desc?.configurable || typeof desc.get !== "function") return patchStreams(globalThis.process);
  let patched = false;
  Object.defineProperty(globalThis, "process", {
    configurable: true,
    enumerable: desc.enumerable,
    get() {
      const proc = desc.get.call(this);
      if (!patched) {
        patched = true;
        patchStreams(proc);
      }
      return proc;
    },
    set(value) {
      desc.set?.call(this, value);
    },
  });
}

function writerFor(level) {
  return (chunk, encoding, callback) => {
    const text = typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    for (const line of text.split("\n")) if (line !== "") emit(level, line);
    const done = typeof encoding === "function" ? encoding : callback;
    if (typeof done === "function") queueMicrotask(done);
    return true;
  };
}
