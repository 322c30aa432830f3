// Turns everything the function prints into JSON lines on the container's stdout:
// {"ts":<epoch ms>,"level":"info","invocationId":"…"|null,"message":"…"}.
// The invocation id comes from an AsyncLocalStorage set around each invocation, so concurrent
// invocations keep their own lines apart. Plain JS, no dependencies: node, bun and deno run it.
import { createRequire } from "node:module";

/** require() for builtins (node, bun and deno all have it); see main.mjs for why not `import`. */
export const nodeRequire = createRequire(import.meta.url);
const { AsyncLocalStorage } = nodeRequire("node:async_hooks");
const { format } = nodeRequire("node:util");

/** Holds `{ invocationId }` for the code running inside one invocation. */
export const invocationScope = new AsyncLocalStorage();

const rawWrite = process.stdout.write.bind(process.stdout);

/** Writes one log line; the shim's own lines carry invocationId null unless inside an invocation. */
export function emit(level, message, extra) {
  const invocationId = invocationScope.getStore()?.invocationId ?? null;
  const line = { ts: Date.now(), level, invocationId, message, ...extra };
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
  for (const [method, level] of Object.entries(consoleLevels)) {
    console[method] = (...args) => {
      const text = format(...args);
      emit(
        level,
        method === "trace" ? `${text}\n${new Error().stack?.split("\n").slice(2).join("\n")}` : text,
      );
    };
  }
  process.stdout.write = writerFor("info");
  process.stderr.write = writerFor("error");
}

function writerFor(level) {
  return (chunk, encoding, callback) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    for (const line of text.split("\n")) if (line !== "") emit(level, line);
    const done = typeof encoding === "function" ? encoding : callback;
    if (typeof done === "function") queueMicrotask(done);
    return true;
  };
}
