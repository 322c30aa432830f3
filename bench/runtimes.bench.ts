// Runtime shim cold-start benchmark (not a test): per runtime, p50 over RUNS of
//   - start→ready: `docker start` of a created, hardened function container → first 200 on /healthz
//   - inside: the shim's own figure (its "shim ready" log line: process start → socket listening;
//     python counts from the shim's first statement, go from package init)
//   - warm invoke latency over the unix socket, and the runtime image sizes.
// Run: npx tsx bench/runtimes.bench.ts [node,python,...]   Writes bench/results/runtimes.json.
import { execFile } from "node:child_process";
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  containerLogs,
  ensureRuntimeImages,
  hardening,
  type Lang,
  RuntimeHarness,
  shimRequest,
  TEST_LABEL,
} from "../test/runtimes/runtime-harness.ts";

const run = promisify(execFile);
const RUNS = 10;
const INVOKES = 50;
const targetsMs: Record<Lang, number> = { node: 50, bun: 50, deno: 50, go: 50, python: 150 };

const hello: Record<Lang, Record<string, string>> = {
  node: { "index.mjs": 'export default { fetch: () => new Response("hello") };\n' },
  bun: { "index.mjs": 'export default { fetch: () => new Response("hello") };\n' },
  deno: { "index.mjs": 'export default { fetch: () => new Response("hello") };\n' },
  python: { "main.py": 'def handler(event, context):\n    return "hello"\n' },
  go: {
    "go.mod": "module hello\n\ngo 1.23\n",
    "handler.go":
      'package function\n\nimport "net/http"\n\nfunc Handle(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }\n',
  },
};

function dockerfile(lang: Lang): string {
  if (lang !== "go")
    return `FROM kumo/runtime-${lang}:latest\nCOPY . /var/task/\nENV KUMO_CODE_DIR=/var/task\n`;
  return [
    "FROM kumo/runtime-go-build:latest AS build",
    `LABEL ${TEST_LABEL}`,
    "COPY . /src",
    'RUN ["kumo-go-build", "-src", "/src", "-out", "/out/function"]',
    "FROM kumo/runtime-go:latest",
    "COPY --from=build /out/function /var/task/function",
    "ENV KUMO_CODE_DIR=/var/task",
    "",
  ].join("\n");
}

const p50 = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round((sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN) * 10) / 10;
};

async function coldStart(image: string): Promise<{ startToReadyMs: number; insideMs: number }> {
  const socketDir = mkdtempSync(join(tmpdir(), "kumo-bench-"));
  chownSync(socketDir, 10001, 10001);
  const { stdout } = await run("docker", [
    "create",
    "--label",
    TEST_LABEL,
    ...hardening(),
    "-v",
    `${socketDir}:/run/kumo`,
    image,
  ]);
  const id = stdout.trim();
  try {
    const t0 = performance.now();
    await run("docker", ["start", id]);
    const socketPath = join(socketDir, "rt.sock");
    for (;;) {
      const ok = await shimRequest(socketPath, { path: "/healthz" }).then(
        (res) => res.status === 200,
        () => false,
      );
      if (ok) break;
      if (performance.now() - t0 > 15_000) throw new Error(`${image} not ready in 15 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const startToReadyMs = performance.now() - t0;
    const ready = (await containerLogs(id)).find((line) => line.message === "shim ready");
    return { startToReadyMs, insideMs: Number(ready?.readyMs ?? Number.NaN) };
  } finally {
    await run("docker", ["rm", "-f", id]);
    rmSync(socketDir, { recursive: true, force: true });
  }
}

async function warmInvokeP50(image: string, harness: RuntimeHarness): Promise<number> {
  const fn = await harness.start(image);
  const times: number[] = [];
  for (let i = 0; i < INVOKES; i++) {
    const t0 = performance.now();
    const res = await fn.request({ path: "/invoke/", headers: { "kumo-invocation-id": `bench-${i}` } });
    if (res.status !== 200) throw new Error(`invoke failed: ${res.status} ${res.body.toString()}`);
    times.push(performance.now() - t0);
  }
  return p50(times);
}

async function imageSizeMb(ref: string): Promise<number> {
  const { stdout } = await run("docker", ["image", "inspect", "--format", "{{.Size}}", ref]);
  return Math.round(Number(stdout.trim()) / 1e5) / 10;
}

async function main(): Promise<void> {
  const langs = (process.argv[2]?.split(",") ?? ["node", "bun", "deno", "python", "go"]) as Lang[];
  await ensureRuntimeImages(langs);
  const harness = new RuntimeHarness();
  const rows = [];
  try {
    for (const lang of langs) {
      const image = await harness.buildImage({ ...hello[lang], Dockerfile: dockerfile(lang) });
      await coldStart(image); // first start pays for page cache; not counted
      const samples = [];
      for (let i = 0; i < RUNS; i++) samples.push(await coldStart(image));
      const runtimeImage = `kumo/runtime-${lang}:latest`;
      rows.push({
        runtime: lang,
        startToReadyP50Ms: p50(samples.map((s) => s.startToReadyMs)),
        insideReadyP50Ms: p50(samples.map((s) => s.insideMs)),
        targetInsideMs: targetsMs[lang],
        warmInvokeP50Ms: await warmInvokeP50(image, harness),
        runtimeImageMb: await imageSizeMb(runtimeImage),
        functionImageMb: await imageSizeMb(image),
        runs: RUNS,
      });
    }
  } finally {
    await harness.cleanup();
  }
  const extra = { base: await imageSizeMb("kumo/base:latest") };
  if (langs.includes("go"))
    Object.assign(extra, { "go-build": await imageSizeMb("kumo/runtime-go-build:latest") });
  console.table(rows);
  console.log("other images (MB):", extra);
  const out = resolve(dirname(fileURLToPath(import.meta.url)), "results/runtimes.json");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), rows, imagesMb: extra }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

await main();
