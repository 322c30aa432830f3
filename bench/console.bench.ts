// Console budgets (issue 14), in Debian's Chromium against a real gateway on loopback:
// - JS the app shell loads, gzipped (≤ 300 KB; Monaco is lazy and not part of it);
// - time to interactive of the shell (≤ 1 s), next to a blank page in the same browser as baseline;
// - render of a 10,000-function list (≤ 200 ms), from the data's arrival to the rows on screen.
// Prints the figures and writes bench/results/console.json.
import { mkdir, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../test/console/chromium.ts";
import { startTestGateway } from "../test/support/test-gateway.ts";

const FUNCTIONS = 10_000;
const RUNS = 5;
const here = import.meta.dirname;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const t = await startTestGateway();
await t.gateway.app.listen({ host: "127.0.0.1", port: 0 });
const base = `http://127.0.0.1:${(t.gateway.app.server.address() as AddressInfo).port}`;
const tenant = await t.tenant();
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript({
    content: `sessionStorage.setItem("kumo.apiKey", ${JSON.stringify(tenant.key)})`,
  });

  // 1. The shell's JS: every script the functions list loads (the first screen after sign-in).
  const page = await context.newPage();
  const scripts = new Map<string, Buffer>();
  page.on("response", async (r) => {
    if (r.request().resourceType() === "script") scripts.set(r.url(), await r.body());
  });
  await page.goto(`${base}/functions`);
  await page.getByText("No functions yet").waitFor();
  const rawBytes = [...scripts.values()].reduce((n, b) => n + b.byteLength, 0);
  const gzipBytes = [...scripts.values()].reduce((n, b) => n + gzipSync(b, { level: 6 }).byteLength, 0);
  const monacoInShell = [...scripts.keys()].some((u) => /monaco|worker/.test(u));

  // 2. Time to interactive: navigation start to the list's first render (data in, shell usable),
  //    against a blank page's load in the same browser.
  const shellMs: number[] = [];
  const blankMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const p = await context.newPage();
    await p.goto(`${base}/functions`);
    await p.getByText("No functions yet").waitFor();
    shellMs.push(await p.evaluate(() => performance.now()));
    await p.goto("about:blank");
    await p.close();
    const b = await context.newPage();
    await b.goto(`${base}/healthz`);
    blankMs.push(Number(await b.evaluate('performance.getEntriesByType("navigation")[0]?.duration ?? 0')));
    await b.close();
  }

  // 3. 10,000 functions: served from a generated page so the figure is the render, not 10,000 inserts.
  const items = Array.from({ length: FUNCTIONS }, (_, i) => ({
    id: `fn_${i}`,
    name: `fn-${String(i).padStart(5, "0")}`,
    runtime: i % 3 === 0 ? "node" : "edge",
    config: {},
    url: `${base}/fn/x/fn-${i}/`,
    liveVersion: (i % 7) + 1,
    updatedAt: new Date().toISOString(),
  }));
  const renderMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const p = await context.newPage();
    await p.route("**/v1/functions?limit=500*", (route) =>
      route.fulfill({ json: { items, nextCursor: null } }),
    );
    await p.goto(`${base}/functions`);
    await p.locator(`[data-testid="function-rows"][data-count="${FUNCTIONS}"]`).waitFor();
    await p.waitForFunction(() => performance.getEntriesByName("kumo:functions-rendered").length > 0);
    renderMs.push(
      await p.evaluate(() => {
        const loaded = performance.getEntriesByName("kumo:functions-loaded")[0]?.startTime ?? 0;
        const rendered = performance.getEntriesByName("kumo:functions-rendered").at(-1)?.startTime ?? 0;
        return rendered - loaded;
      }),
    );
    await p.close();
  }

  const result = {
    shellJs: {
      files: scripts.size,
      rawKB: +(rawBytes / 1024).toFixed(1),
      gzipKB: +(gzipBytes / 1024).toFixed(1),
      budgetKB: 300,
      monacoInShell,
    },
    shellInteractiveMs: {
      median: +median(shellMs).toFixed(1),
      runs: shellMs.map((x) => +x.toFixed(1)),
      budget: 1000,
    },
    blankPageMs: { median: +median(blankMs).toFixed(1) },
    shellVsBlank: +(median(shellMs) / Math.max(0.1, median(blankMs))).toFixed(1),
    list10k: { median: +median(renderMs).toFixed(1), runs: renderMs.map((x) => +x.toFixed(1)), budget: 200 },
  };
  console.log(
    `shell JS: ${result.shellJs.files} files, ${result.shellJs.rawKB} KB raw, ${result.shellJs.gzipKB} KB gzipped (budget 300 KB; Monaco in shell: ${monacoInShell})`,
  );
  console.log(
    `shell interactive: median ${result.shellInteractiveMs.median} ms (budget 1000 ms); blank page ${result.blankPageMs.median} ms; ratio ${result.shellVsBlank}x`,
  );
  console.log(`10,000-function list render: median ${result.list10k.median} ms (budget 200 ms)`);
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "console.json"), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await browser.close();
  await t.close();
}
