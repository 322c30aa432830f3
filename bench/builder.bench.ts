// Builder benchmark (not a test): per runtime, with the dependency-using sources of the builder tests,
//   - cold build: a fresh tenant (no cached layer of it), dependencies installed from scratch
//   - code-only rebuild: one code file changed, dependency layer reused (median of REBUILDS)
//   - identical source: found by digest, nothing built
//   - the function image size
// Through the real gRPC BuildService and the local Docker engine. Target: node code-only rebuild <= 3 s.
// Run: npx tsx bench/builder.bench.ts [node,python,...]   Writes bench/results/builder.json.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { BuildClient, loadBuilderConfig, start } from "@kumo/builder";
import { packSourceArchive } from "@kumo/source";
import { SOURCES } from "../test/builder/sources.ts";
import { ensureRuntimeImages } from "../test/runtimes/runtime-harness.ts";

const run = promisify(execFile);
const REBUILDS = 3;
const RUNTIMES = ["node", "bun", "deno", "python", "go", "container"] as const;
type Runtime = (typeof RUNTIMES)[number];
const only = process.argv[2]?.split(",") as Runtime[] | undefined;

const tarOf = (files: Record<string, string | Buffer>) =>
  packSourceArchive(new Map(Object.entries(files).map(([p, c]) => [p, Buffer.from(c)] as const)));

await ensureRuntimeImages(["node", "bun", "deno", "python", "go"]);
const builder = await start(
  loadBuilderConfig({
    ...process.env,
    KUMO_BUILDER_PORT: "0",
    KUMO_BUILDER_LISTEN: "127.0.0.1:0",
  }),
);
const client = new BuildClient(builder.grpcAddress);
const tenantId = `ten_bench${randomBytes(4).toString("hex")}`;
const results: Record<string, unknown> = {};
try {
  for (const runtime of RUNTIMES.filter((r) => !only || only.includes(r))) {
    const src = SOURCES[runtime];
    const build = async (files: Record<string, string | Buffer>, tag: string) => {
      const t0 = performance.now();
      const out = await client.build({
        tenantId,
        functionName: `bench-${runtime}`,
        runtime,
        handler: "",
        sourceTar: await tarOf(files),
        deploymentId: `dep_bench_${tag}`,
      });
      return { ms: Math.round(performance.now() - t0), ...out.result };
    };
    const cold = await build(src.deps, "cold");
    const rebuilds: number[] = [];
    for (let i = 0; i < REBUILDS; i++) {
      const edited = { ...src.edited };
      // A different code change every time, so each one really rebuilds the code layer.
      for (const [path, content] of Object.entries(edited))
        if (/\.(mjs|py|go)$/.test(path) && typeof content === "string")
          edited[path] = `${content}\n// ${i}\n`.replace("// ", path.endsWith(".py") ? "# " : "// ");
      rebuilds.push((await build(edited, `edit${i}`)).ms);
    }
    const same = await build(src.deps, "same");
    rebuilds.sort((a, b) => a - b);
    results[runtime] = {
      coldBuildMs: cold.ms,
      codeOnlyRebuildMs: rebuilds[Math.floor(rebuilds.length / 2)],
      identicalSourceMs: same.ms,
      identicalSourceCached: same.cached,
      imageMb: Math.round(cold.imageBytes / 1e5) / 10,
    };
    process.stdout.write(`${runtime.padEnd(10)} ${JSON.stringify(results[runtime])}\n`);
  }
} finally {
  client.close();
  await builder.stop();
  const { stdout } = await run("docker", ["images", "-aq", "--filter", `label=dev.kumo.tenant=${tenantId}`]);
  const ids = [...new Set(stdout.split("\n").filter(Boolean))];
  if (ids.length > 0) await run("docker", ["rmi", "-f", ...ids]).catch(() => {});
}

const node = results.node as { codeOnlyRebuildMs: number } | undefined;
const out = {
  bench: "builder",
  machine: "2 cores, Docker 20.10 classic builder",
  at: new Date().toISOString(),
  target: { nodeCodeOnlyRebuildMs: 3000, met: node ? node.codeOnlyRebuildMs <= 3000 : null },
  runtimes: results,
};
const file = join(resolve(dirname(fileURLToPath(import.meta.url))), "results/builder.json");
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`wrote ${file}\n`);
