import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/**
 * Processes to watch, by role: the listed pids themselves, or (`{ tree }`) their whole process
 * trees (a container's init and what it started). A pid list counts only those processes, so the
 * benchmark process's own children (the autoscaler, the load generator) are not counted in its role.
 */
export type CpuRoles = Record<string, number[] | { tree: number[] }>;

/**
 * Clock ticks (10 ms) of a process and its descendants, user + system or (`system`) system only;
 * 0 for a process that is gone.
 */
function treeTicks(pid: number, children: Map<number, number[]>, system: boolean): number {
  let ticks = processTicks(pid, system);
  for (const kid of children.get(pid) ?? []) ticks += treeTicks(kid, children, system);
  return ticks;
}

function childMap(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = map.get(ppid) ?? [];
      list.push(pid);
      map.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  return map;
}

/** user + system (or, `system`, system only) ticks of one process, not its children: cheap to poll. */
export function processTicks(pid: number, system = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (system ? 0 : Number(fields[11])) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Ticks per role (see CpuRoles); `system: true` counts kernel time only. */
export function sampleCpu(roles: CpuRoles, options: { system?: boolean } = {}): Record<string, number> {
  const children = childMap();
  const system = options.system === true;
  const out: Record<string, number> = {};
  for (const [role, pids] of Object.entries(roles)) {
    out[role] = Array.isArray(pids)
      ? pids.reduce((sum, pid) => sum + processTicks(pid, system), 0)
      : pids.tree.reduce((sum, pid) => sum + treeTicks(pid, children, system), 0);
  }
  return out;
}

/** CPU % (100 = one core) per role between two samples taken `seconds` apart, plus the total. */
export function cpuPercent(
  before: Record<string, number>,
  after: Record<string, number>,
  seconds: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  for (const [role, ticks] of Object.entries(after)) {
    const pct = Math.round(((ticks - (before[role] ?? 0)) / Math.max(0.001, seconds)) * 10) / 10;
    out[role] = pct;
    total += pct;
  }
  out.total = Math.round(total * 10) / 10;
  return out;
}

/** Pids of processes whose command name is exactly `name` (read-only lookup, never signalled). */
export function pidsNamed(name: string): number[] {
  try {
    return execFileSync("pgrep", ["-x", name], { encoding: "utf8" }).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Whole-machine busy ticks (all cores), to show what else ran during a measurement. */
export function machineTicks(): number {
  const cpu =
    readFileSync("/proc/stat", "utf8").split("\n")[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal
  return (cpu[0] ?? 0) + (cpu[1] ?? 0) + (cpu[2] ?? 0) + (cpu[5] ?? 0) + (cpu[6] ?? 0) + (cpu[7] ?? 0);
}
