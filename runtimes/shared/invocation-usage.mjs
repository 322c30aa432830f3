// What one invocation used, for the platform's metrics: the process's CPU time (user + system)
// from the request's arrival to its response head, and the process's resident memory. The figures
// go out in the response header `kumo-usage` (`cpu=<ms>;rss=<bytes>`), which the autoscaler
// reads and strips. Cheap by design: one getrusage per start and per response head; rss (a
// /proc read) at most once a second. Concurrent invocations of one process share its CPU time, so
// each one's figure counts the others' work meanwhile.

export const USAGE_HEADER = "kumo-usage";
const RSS_SAMPLE_MS = 1000;

let rssAt = Number.NEGATIVE_INFINITY;
let rss = 0;

/**
 * Adds the usage header to the response head, whichever way the handler writes it (writeHead, or
 * implicitly by write/end, which call writeHead too). Does nothing where the process has no
 * `cpuUsage` (the Deno adapter, which avoids Node builtins).
 * @param {{ writeHead: Function, setHeader?: Function, headersSent?: boolean }} res
 */
export function reportUsage(res) {
  const proc = globalThis.process;
  if (typeof proc?.cpuUsage !== "function" || typeof res.setHeader !== "function") return;
  const start = proc.cpuUsage();
  const writeHead = res.writeHead;
  res.writeHead = function (...args) {
    res.writeHead = writeHead;
    if (!this.headersSent) {
      const used = proc.cpuUsage(start);
      const now = Date.now();
      if (now - rssAt >= RSS_SAMPLE_MS) {
        rssAt = now;
        rss = typeof proc.memoryUsage?.rss === "function" ? proc.memoryUsage.rss() : 0;
      }
      const cpuMs = (used.user + used.system) / 1000;
      this.setHeader(USAGE_HEADER, rss > 0 ? `cpu=${cpuMs};rss=${rss}` : `cpu=${cpuMs}`);
    }
    return writeHead.apply(this, args);
  };
}
