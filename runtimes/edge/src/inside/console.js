// console.* captured per invocation. Which invocation a line belongs to is decided by the bootstrap
// (`activeInvocation`): the one whose entry from the host (start, timer, fetch result) is running,
// including the async continuations drained at the end of that entry.
const MAX_DEPTH = 3;

function formatValue(value, depth, seen) {
  if (typeof value === "string") return depth === 0 ? value : JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol") return value.toString();
  if (typeof value === "function") return `[Function: ${value.name || "anonymous"}]`;
  if (value === null || typeof value !== "object") return String(value);
  if (value instanceof Error) return value.stack || `${value.name}: ${value.message}`;
  if (seen.has(value)) return "[Circular]";
  if (depth > MAX_DEPTH) return Array.isArray(value) ? "[Array]" : "[Object]";
  seen.add(value);
  try {
    if (Array.isArray(value)) return `[ ${value.map((v) => formatValue(v, depth + 1, seen)).join(", ")} ]`;
    if (value instanceof Map) {
      return `Map(${value.size}) { ${Array.from(value, ([k, v]) => `${formatValue(k, depth + 1, seen)} => ${formatValue(v, depth + 1, seen)}`).join(", ")} }`;
    }
    if (value instanceof Set) {
      return `Set(${value.size}) { ${Array.from(value, (v) => formatValue(v, depth + 1, seen)).join(", ")} }`;
    }
    if (ArrayBuffer.isView(value)) {
      // A typed array has a length, a DataView only its byteLength.
      const view = /** @type {ArrayBufferView & { length?: number }} */ (value);
      return `${value.constructor.name}(${view.length ?? view.byteLength})`;
    }
    const entries = Object.keys(value).map((k) => `${k}: ${formatValue(value[k], depth + 1, seen)}`);
    return entries.length === 0 ? "{}" : `{ ${entries.join(", ")} }`;
  } finally {
    seen.delete(value);
  }
}

export function formatArgs(args) {
  const seen = new Set();
  return args.map((arg) => formatValue(arg, 0, seen)).join(" ");
}

export function createConsole(write, now) {
  const counters = new Map();
  const timers = new Map();
  const at =
    (level) =>
    (...args) =>
      write(level, formatArgs(args));
  return {
    debug: at("debug"),
    log: at("info"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    trace: at("debug"),
    assert(condition, ...args) {
      if (!condition) write("error", `Assertion failed${args.length ? `: ${formatArgs(args)}` : ""}`);
    },
    count(label = "default") {
      const n = (counters.get(label) ?? 0) + 1;
      counters.set(label, n);
      write("info", `${label}: ${n}`);
    },
    time(label = "default") {
      timers.set(label, now());
    },
    timeEnd(label = "default") {
      const start = timers.get(label);
      timers.delete(label);
      if (start !== undefined) write("info", `${label}: ${now() - start}ms`);
    },
    table: at("info"),
    dir: at("info"),
  };
}
