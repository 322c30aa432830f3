/**
 * web-platform-tests that run in workers, side by side in Kumo edge and workerd (issue 16).
 * Run: node --import tsx bench/wpt.bench.ts --wpt /path/to/wpt [--dirs url,encoding] [--timeout 10000]
 *      [--files list.txt] [--out file.json] [--details]
 * Prints per-directory pass counts and writes bench/results/wpt.json. No WPT file is committed: the
 * checkout is given by path (KUMO_WPT_DIR works too). --details adds every subtest that did not pass
 * to the JSON, for finding what to fix. The files run are `--files` (one path a line,
 * relative to the checkout), else the checkout's SELECTION.txt, else every `*.any.js` under `--dirs`.
 *
 * Each file becomes one worker module (support/wpt-suite.ts): testharness.js, its META scripts and
 * the file, answering with the subtest results. Kumo runs it through the real edge provider as a
 * deployed function; workerd runs the same module in its own process. A file that does not answer
 * within --timeout counts every subtest as failed.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { EdgeProvider } from "../runtimes/edge/src/edge-provider.ts";
import { edgeTarget, invokeEdge } from "../runtimes/edge/src/edge-test-kit.ts";
import { createEdgeProvider } from "../runtimes/edge/src/index.ts";
import { startWorkerd } from "./support/workerd.ts";
import { buildWptSuite, type SuiteReport, WPT_ORIGIN } from "./support/wpt-suite.ts";
import { type FileOutcome, type Runtime, summarize } from "./support/wpt-summary.ts";

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_DIRS =
  "url,encoding,fetch/api/response,streams,WebCryptoAPI,html/webappapis/atob,html/webappapis/structured-clone,FileAPI,xhr/formdata,dom/events,dom/abort,compression";
const { values: args } = parseArgs({
  options: {
    wpt: { type: "string", default: process.env.KUMO_WPT_DIR },
    dirs: { type: "string", default: DEFAULT_DIRS },
    files: { type: "string" },
    timeout: { type: "string", default: "10000" },
    out: { type: "string", default: join(here, "results/wpt.json") },
    details: { type: "boolean", default: false },
  },
});
const timeoutMs = Number(args.timeout);
/** workerd's newest behaviour (URL parser, streams...), within what this workerd binary knows. */
const WORKERD_COMPATIBILITY_DATE = "2025-06-01";

async function anyJsUnder(wptDir: string, dir: string): Promise<string[]> {
  const entries = await readdir(join(wptDir, dir), { recursive: true });
  return entries
    .filter((name) => name.endsWith(".any.js"))
    .map((name) => join(dir, name))
    .sort();
}

async function testList(wptDir: string, dirs: string[]): Promise<string[]> {
  const listFile =
    args.files ?? (existsSync(join(wptDir, "SELECTION.txt")) ? join(wptDir, "SELECTION.txt") : undefined);
  if (listFile) {
    const lines = (await readFile(listFile, "utf8")).split("\n").map((l) => l.trim());
    return lines.filter((l) => l && !l.startsWith("#") && dirs.some((d) => l.startsWith(`${d}/`)));
  }
  return (await Promise.all(dirs.map((d) => anyJsUnder(wptDir, d)))).flat();
}

function failed(reason: string): SuiteReport {
  return { results: [], harness: { status: "ERROR", message: reason }, error: reason, shims: [] };
}

async function runInKumo(provider: EdgeProvider, source: string): Promise<SuiteReport> {
  const target = await edgeTarget(
    { "index.js": source },
    {
      // egress: the suite's fetch() answers http(s) from the checkout itself (support/wpt-suite.ts);
      // only data: and blob: URLs reach the runtime's fetch, as in workerd.
      config: {
        cpuMs: Math.min(30_000, timeoutMs),
        timeoutMs: timeoutMs + 2000,
        memoryMb: 256,
        egress: true,
      },
    },
  ).catch((error: unknown) => error as Error);
  if (target instanceof Error) return failed(`bundle: ${target.message}`);
  const res = await invokeEdge(provider, target, {
    url: "/",
    headers: { host: new URL(WPT_ORIGIN).host },
    deadline: Date.now() + timeoutMs + 5000,
  });
  if (res.status !== 200) return failed(`status ${res.status}: ${res.text.slice(0, 300)}`);
  return res.json<SuiteReport>();
}

async function runInWorkerd(source: string): Promise<SuiteReport> {
  const workerd = await startWorkerd({
    source,
    compatibilityDate: WORKERD_COMPATIBILITY_DATE,
    readyPath: "/__ready",
  }).catch((error: unknown) => error as Error);
  if (workerd instanceof Error) return failed(workerd.message.slice(0, 300));
  try {
    const res = await fetch(`http://127.0.0.1:${workerd.port}/`, {
      signal: AbortSignal.timeout(timeoutMs + 5000),
    }).catch((error: unknown) => error as Error);
    if (res instanceof Error) return failed(`workerd: ${res.message}`);
    const text = await res.text();
    if (res.status !== 200) return failed(`status ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as SuiteReport;
  } finally {
    await workerd.stop();
  }
}

async function main(): Promise<void> {
  if (!args.wpt) {
    if (process.env.KUMO_BENCH === "1") {
      console.log("wpt: skipped (no web-platform-tests checkout: pass --wpt <dir> or set KUMO_WPT_DIR)");
      return;
    }
    throw new Error("--wpt <dir> is required: a web-platform-tests checkout (with resources/testharness.js)");
  }
  const wptDir = resolve(args.wpt);
  if (!existsSync(join(wptDir, "resources/testharness.js"))) {
    throw new Error(`${wptDir} is not a web-platform-tests checkout: resources/testharness.js is missing`);
  }
  const dirs = (args.dirs ?? DEFAULT_DIRS).split(",").map((d) => d.trim().replace(/\/$/, ""));
  const tests = await testList(wptDir, dirs);
  if (tests.length === 0) throw new Error(`no .any.js test files under ${dirs.join(", ")}`);
  const provider = await createEdgeProvider({ hosts: 1, maxIsolatesPerHost: 4, spareIsolates: 1 });
  const outcomes: FileOutcome[] = [];
  try {
    for (const [i, test] of tests.entries()) {
      const suite = await buildWptSuite(wptDir, test, timeoutMs);
      const reports: Record<Runtime, SuiteReport> = {
        kumo: await runInKumo(provider, suite.source),
        workerd: await runInWorkerd(suite.source),
      };
      const outcome = { test, dir: dirs.find((d) => test.startsWith(`${d}/`)) ?? dirname(test), reports };
      outcomes.push(outcome);
      const passed = (r: Runtime) => reports[r].results.filter((t) => t.status === "PASS").length;
      console.log(
        `[${i + 1}/${tests.length}] ${test}: kumo ${passed("kumo")}/${reports.kumo.results.length}, workerd ${passed("workerd")}/${reports.workerd.results.length}`,
      );
    }
  } finally {
    await provider.stop();
  }
  const summary = summarize(outcomes, args.details ?? false);
  console.log(
    "\n| directory | files | subtests | Kumo passed | workerd passed | Kumo % | workerd % | Kumo/workerd |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const row of [...summary.directories, summary.total]) {
    console.log(
      `| ${row.dir} | ${row.files} | ${row.subtests} | ${row.passed.kumo} | ${row.passed.workerd} | ${row.percent.kumo} | ${row.percent.workerd} | ${row.ratio ?? "-"} |`,
    );
  }
  const out = resolve(args.out ?? join(here, "results/wpt.json"));
  await mkdir(dirname(out), { recursive: true });
  const result = { wpt: wptDir, timeoutMs, workerdCompatibilityDate: WORKERD_COMPATIBILITY_DATE, ...summary };
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${relative(process.cwd(), out)}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
