/** Runtimes a source tree can be detected as (edge is never detected: it is always chosen). */
export const DETECTABLE_RUNTIMES = ["node", "bun", "deno", "python", "go", "container"] as const;
export type DetectedRuntime = (typeof DETECTABLE_RUNTIMES)[number];

export interface RuntimeDetection {
  runtime: DetectedRuntime;
  /** The file that decided it, for the build log. */
  file: string;
}

/** Root files that name a runtime, strongest first. */
const MARKERS: readonly [string, DetectedRuntime][] = [
  ["Dockerfile", "container"],
  ["deno.json", "deno"],
  ["deno.jsonc", "deno"],
  ["bun.lockb", "bun"],
  ["bun.lock", "bun"],
  ["bunfig.toml", "bun"],
  ["go.mod", "go"],
  ["requirements.txt", "python"],
  ["pyproject.toml", "python"],
  ["package.json", "node"],
];

/** What the files at the root of a source tree say about its runtime; undefined when nothing does. */
export function detectRuntime(paths: Iterable<string>): RuntimeDetection | undefined {
  const root = new Set([...paths].filter((p) => !p.includes("/")));
  for (const [file, runtime] of MARKERS) if (root.has(file)) return { runtime, file };
  const go = [...root].find((p) => p.endsWith(".go"));
  if (go) return { runtime: "go", file: go };
  const py = [...root].find((p) => p.endsWith(".py"));
  if (py) return { runtime: "python", file: py };
  return undefined;
}

const JS_RUNTIMES = new Set(["node", "bun", "deno", "edge"]);

/**
 * The runtime to build a function's source for when kumo.json does not name one: the files decide,
 * except that an edge function stays edge (a deliberate choice with other semantics), and a
 * package.json alone does not move a bun or deno function to node (every JS runtime reads it).
 */
export function chooseRuntime(current: string, paths: Iterable<string>): { runtime: string; file?: string } {
  if (current === "edge") return { runtime: current };
  const detected = detectRuntime(paths);
  if (!detected) return { runtime: current };
  // A pinned version ("node22", "python3.13") stays pinned when the files name its family.
  const family = current.replace(/[0-9][0-9.]*$/, "");
  if (detected.runtime === family || (detected.runtime === "node" && JS_RUNTIMES.has(family)))
    return { runtime: current, file: detected.file };
  return detected;
}
