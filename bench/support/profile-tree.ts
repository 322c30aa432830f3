/**
 * A V8 CPU profile (`--cpu-prof`'s .cpuprofile) as text: a top-down tree of busy time (a flame
 * graph read from the root, one line per frame above a threshold), the functions with the most
 * self time, and optionally folded stacks (`--folded`, the input of flamegraph.pl, speedscope or
 * inferno). Shares are of busy time: "(idle)" is left out.
 *
 *   node --import tsx bench/support/profile-tree.ts FILE.cpuprofile [--min 2] [--depth 14] [--top 20] [--folded]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    min: { type: "string", default: "2" },
    depth: { type: "string", default: "14" },
    top: { type: "string", default: "20" },
    folded: { type: "boolean", default: false },
  },
});

/** `name (file:line)`, the file relative to the repository or to its package in node_modules. */
function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const path = frame.url.replace(/^file:\/\//, "");
  const inModules = path.lastIndexOf("node_modules/");
  const short =
    inModules >= 0 ? path.slice(inModules + "node_modules/".length) : path.replace(`${process.cwd()}/`, "");
  return `${name} (${short}:${frame.lineNumber + 1})`;
}

function summarize(file: string): void {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time per node from the samples and their time deltas (µs), not from hit counts, so an
  // uneven sampling interval under load does not skew the shares.
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
  });
  const inclusive = new Map<number, number>();
  const total = (id: number): number => {
    const known = inclusive.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let sum = self.get(id) ?? 0;
    for (const child of node?.children ?? []) sum += total(child);
    inclusive.set(id, sum);
    return sum;
  };
  const root = profile.nodes[0];
  if (!root) throw new Error(`${file}: no nodes`);
  const idle = profile.nodes
    .filter((n) => n.callFrame.functionName === "(idle)")
    .reduce((s, n) => s + (self.get(n.id) ?? 0), 0);
  const busy = total(root.id) - idle;
  const pct = (us: number) => `${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)} %`;
  const min = (Number(values.min) / 100) * busy;
  const maxDepth = Number(values.depth);

  if (values.folded) {
    // Folded stacks alone on stdout: what flamegraph.pl and speedscope read.
    const walk = (id: number, stack: string[]) => {
      const node = byId.get(id);
      if (!node || node.callFrame.functionName === "(idle)") return;
      const here = id === root.id ? stack : [...stack, label(node.callFrame).replaceAll(";", ",")];
      const own = self.get(id) ?? 0;
      if (own > 0 && here.length > 0) console.log(`${here.join(";")} ${own}`);
      for (const child of node.children ?? []) walk(child, here);
    };
    walk(root.id, []);
    return;
  }

  console.log(`# ${file}`);
  console.log(`busy ${(busy / 1000).toFixed(0)} ms of ${(total(root.id) / 1000).toFixed(0)} ms sampled\n`);
  console.log("top-down (inclusive share of busy time, self share in brackets):");
  const print = (id: number, depth: number) => {
    const node = byId.get(id);
    if (!node) return;
    const children = (node.children ?? [])
      .filter((c) => byId.get(c)?.callFrame.functionName !== "(idle)" && total(c) >= min)
      .sort((a, b) => total(b) - total(a));
    if (id !== root.id) {
      console.log(
        `${pct(total(id))} [${pct(self.get(id) ?? 0).trim()}] ${"  ".repeat(depth)}${label(node.callFrame)}`,
      );
    }
    if (depth < maxDepth) for (const child of children) print(child, id === root.id ? 0 : depth + 1);
  };
  print(root.id, 0);

  console.log("\nself time by function:");
  const byLabel = new Map<string, number>();
  for (const node of profile.nodes) {
    if (node.callFrame.functionName === "(idle)") continue;
    const key = label(node.callFrame);
    byLabel.set(key, (byLabel.get(key) ?? 0) + (self.get(node.id) ?? 0));
  }
  for (const [key, us] of [...byLabel].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${pct(us)}  ${key}`);
  }
  console.log();
}

// Piped into head or less that quit early: stop quietly.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

if (positionals.length === 0) {
  console.error("usage: profile-tree.ts FILE.cpuprofile... [--min 2] [--depth 14] [--top 20] [--folded]");
  process.exit(2);
}
for (const file of positionals) summarize(file);
