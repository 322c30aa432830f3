// What one invocation used, for the platform's metrics: the process's CPU time (user + system)
// from the request's arrival to its response head, and the process's resident memory. The figures
// go out in the response header `kumo-usage` (`cpu=<ms>;rss=<bytes>`), which the autoscaler
// reads and strips. Cheap by design: one getrusage per start and per response head; rss (a
// /proc read) at most once a second. Concurrent invocations of one process share its CPU time, so
// each one's figure counts the others' work meanwhile.
//
// The header joins the head through the response class's own writeHead, wrapped once per class,
// and goes into the headers object writeHead is given. Wrapping each response's writeHead instead
// (an own property per response) and adding the header with setHeader (which sends node's
// writeHead down its merging path) cost a hello invocation about 40 µs of the shim's ~100 µs.

export const USAGE_HEADER = "kumo-usage";
const RSS_SAMPLE_MS = 1000;
/** The CPU time (ms) at the invocation's start, on responses whose usage is reported. */
const START = Symbol("kumo.usage.start");
const WRAPPED = Symbol("kumo.usage.wrapped");

let rssAt = Number.NEGATIVE_INFINITY;
let rss = 0;

/**
 * Adds the usage header to the response head, whichever way the handler writes it (writeHead, or
 * implicitly by write/end, which call writeHead too). Does nothing where the process has no
 * `cpuUsage` (the Deno adapter, which avoids Node builtins).
 * @param {{ writeHead: Function, headersSent?: boolean }} res
 */
export function reportUsage(res) {
  const proc = globalThis.process;
  if (typeof proc?.cpuUsage !== "function") return;
  const proto = Object.getPrototypeOf(res);
  if (!proto || typeof proto.writeHead !== "function") return;
  if (!Object.hasOwn(proto, WRAPPED)) wrapWriteHead(proto, proc);
  res[START] = cpuMs(proc);
}

function cpuMs(proc) {
  const used = proc.cpuUsage();
  return (used.user + used.system) / 1000;
}

/** writeHead(status[, reason][, headers]) of the response class, adding the usage header. */
function wrapWriteHead(proto, proc) {
  const writeHead = proto.writeHead;
  proto[WRAPPED] = true;
  /** @this {any} */
  proto.writeHead = function (...args) {
    const start = this[START];
    if (start === undefined || this.headersSent) return writeHead.apply(this, args);
    this[START] = undefined;
    const status = args[0];
    let [, reason, headers] = args;
    const value = usageValue(proc, start);
    // The headers argument follows an optional reason phrase; it is an object or a flat list.
    if (typeof reason !== "string") {
      headers = reason;
      reason = undefined;
    }
    if (Array.isArray(headers)) {
      headers = Array.isArray(headers[0])
        ? [...headers, [USAGE_HEADER, value]]
        : [...headers, USAGE_HEADER, value];
    } else if (headers) headers[USAGE_HEADER] = value;
    else headers = { [USAGE_HEADER]: value };
    return reason === undefined
      ? writeHead.call(this, status, headers)
      : writeHead.call(this, status, reason, headers);
  };
}

function usageValue(proc, start) {
  const now = Date.now();
  if (now - rssAt >= RSS_SAMPLE_MS) {
    rssAt = now;
    rss = typeof proc.memoryUsage?.rss === "function" ? proc.memoryUsage.rss() : 0;
  }
  const cpu = Math.round((cpuMs(proc) - start) * 1000) / 1000;
  return rss > 0 ? `cpu=${cpu};rss=${rss}` : `cpu=${cpu}`;
}
