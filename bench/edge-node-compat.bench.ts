/**
 * What `"compatibility": ["nodejs"]` costs an edge function (loopback only, one isolate host):
 *   1. bundle bytes (code and source map) of the same handler without the layer, using only the
 *      `Buffer`/`process` globals, and importing each supported node: module;
 *   2. cold start (a new version's first invocation: code sent to the host, module evaluated in a
 *      spare isolate, handler run) and warm invocation, median over --runs versions.
 * Run: node --import tsx bench/edge-node-compat.bench.ts [--runs 15]
 * Prints the figures and writes bench/results/edge-node-compat.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { bundleEdgeFunction, createEdgeProvider } from "@kumo/edge";
import { splitEdgeScript } from "../runtimes/edge/src/edge-script.ts";
import { edgeTarget, invokeEdge } from "../runtimes/edge/src/edge-test-kit.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({ options: { runs: { type: "string", default: "15" } } });
const runs = Number(args.runs);

const MODULES = ["buffer", "events", "util", "stream", "path", "url", "assert", "string_decoder", "crypto"];
const CASES = [
  { name: "plain", compat: false, code: `export default { fetch() { return new Response("ok"); } };` },
  {
    name: "globals only (Buffer, process)",
    compat: true,
    code: `export default { fetch() { return new Response(Buffer.from("ok").toString() + (process.env.X ?? "")); } };`,
  },
  ...MODULES.map((name) => ({
    name: `node:${name}`,
    compat: true,
    code: `import * as m from "node:${name}";\nexport default { fetch() { return new Response(String(Object.keys(m).length)); } };`,
  })),
  {
    name: "all modules",
    compat: true,
    code: `${MODULES.map((m, i) => `import * as m${i} from "node:${m}";`).join("\n")}
export default { fetch() { return new Response(String(${MODULES.map((_, i) => `Object.keys(m${i}).length`).join(" + ")})); } };`,
  },
];

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Number((sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(2));
};

const provider = await createEdgeProvider({ hosts: 1 });
const results = [];
try {
  for (const c of CASES) {
    const options = c.compat ? { compatibility: ["nodejs"] } : {};
    const bundle = await bundleEdgeFunction({ "index.ts": c.code }, options);
    const { code, sourceMap } = splitEdgeScript(bundle.code);
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) {
      const config = {
        cpuMs: 2000,
        timeoutMs: 10_000,
        ...(c.compat ? { compatibility: ["nodejs" as const] } : {}),
      };
      const target = await edgeTarget(`${c.code}\n// run ${i}`, { config });
      // A spare isolate is ready again (the host refills it after each cold start).
      await new Promise((resolve) => setTimeout(resolve, 100));
      let started = performance.now();
      const first = await invokeEdge(provider, target);
      if (first.status !== 200) throw new Error(`${c.name}: ${first.status} ${first.text}`);
      cold.push(performance.now() - started);
      started = performance.now();
      await invokeEdge(provider, target);
      warm.push(performance.now() - started);
    }
    const row = {
      case: c.name,
      codeBytes: Buffer.byteLength(code),
      sourceMapBytes: Buffer.byteLength(sourceMap ?? ""),
      coldMsP50: median(cold),
      warmMsP50: median(warm),
    };
    results.push(row);
    console.log(
      `${row.case.padEnd(32)} code ${String(row.codeBytes).padStart(7)} B  map ${String(row.sourceMapBytes).padStart(7)} B  cold p50 ${row.coldMsP50} ms  warm p50 ${row.warmMsP50} ms`,
    );
  }
} finally {
  await provider.stop();
}
const out = join(here, "results", "edge-node-compat.json");
await mkdir(dirname(out), { recursive: true });
await writeFile(
  out,
  `${JSON.stringify({ at: new Date().toISOString(), cpus: cpus().length, loadavg: loadavg(), runs, results }, null, 2)}\n`,
);
console.log(`wrote ${out}`);
