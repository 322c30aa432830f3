import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * CPU time (user + system, in clock ticks of 10 ms) of a process and its descendants, by kind:
 * "host" for isolate hosts, "server" for the rest. Read from /proc, so Linux only; a process that
 * is gone counts as zero. Used by the edge bench to report CPU µs per request per process, a figure
 * that stays comparable when other work on the machine makes req/s noisy.
 */
export function processTreeCpu(root: number): Record<string, number> {
  const out: Record<string, number> = {};
  const visit = (pid: number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ticks = Number(fields[11]) + Number(fields[12]);
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const kind = cmd.includes("isolate-host") ? "host" : cmd.includes("esbuild") ? "esbuild" : "server";
      out[kind] = (out[kind] ?? 0) + ticks;
    } catch {
      return;
    }
    let kids = "";
    try {
      kids = execFileSync("ps", ["--ppid", String(pid), "-o", "pid="], { encoding: "utf8" });
    } catch {
      // ps exits 1 when there are no children
    }
    for (const kid of kids.split(/\s+/).filter(Boolean)) visit(Number(kid));
  };
  visit(root);
  return out;
}

/** CPU µs per request by kind between two processTreeCpu snapshots. */
export function cpuPerRequest(
  before: Record<string, number>,
  after: Record<string, number>,
  requests: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [kind, ticks] of Object.entries(after)) {
    if (kind === "esbuild") continue;
    out[kind] = Number((((ticks - (before[kind] ?? 0)) * 10_000) / Math.max(1, requests)).toFixed(1));
  }
  return out;
}
