// The guide (docs/), built by VitePress into docs/.vitepress/dist, which the gateway serves at
// /guide. Built here, like the console, so no build ever runs in a request. The reference pages
// are built as committed: regenerating them here would hide drift from test/docs/reference.test.ts
// (`npm run build -w @kumo/docs` regenerates them, then builds).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { act, ok } from "./log.mjs";
import { ProvisionError } from "./provision-error.mjs";

const STEP = "docs";
/** Written after a successful build; its mtime is the build's. */
const STAMP = ".built";
/** Under docs/: never inputs (the output, caches, installed packages). */
const NOT_INPUTS = new Set(["node_modules", "dist", "cache", ".built"]);

/**
 * Build the guide when dist is missing or older than its Markdown or its config (~10 s); nothing to
 * do otherwise. Idempotent.
 * @param {string} repoRoot
 */
export function ensureDocs(repoRoot) {
  const docs = join(repoRoot, "docs");
  const dist = join(docs, ".vitepress", "dist");
  const reason = staleReason(docs, dist);
  if (!reason) {
    ok(STEP, "docs/.vitepress/dist up to date");
    return;
  }
  act(STEP, `vitepress build (${reason})`);
  const started = Date.now();
  const vitepress = join(repoRoot, "node_modules", "vitepress", "bin", "vitepress.js");
  const result = spawnSync(process.execPath, [vitepress, "build", ".", "--logLevel", "warn"], {
    cwd: docs,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.error || result.status !== 0) {
    throw new ProvisionError(STEP, "vitepress build of docs failed", "see VitePress's output above");
  }
  writeFileSync(join(dist, STAMP), new Date().toISOString());
  ok(STEP, `built docs/.vitepress/dist in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

/**
 * Why the guide needs a build, or undefined when dist is current.
 * @param {string} docs
 * @param {string} dist
 */
function staleReason(docs, dist) {
  const stamp = join(dist, STAMP);
  if (!existsSync(stamp)) return "docs/.vitepress/dist is missing";
  const builtAt = statSync(stamp).mtimeMs;
  const changed = newestInput(docs, builtAt);
  return changed ? `docs/${changed} changed` : undefined;
}

/**
 * The first input under docs/ newer than the build, as a path relative to docs/.
 * @param {string} dir
 * @param {number} builtAt
 * @param {string} [prefix]
 * @returns {string | undefined}
 */
function newestInput(dir, builtAt, prefix = "") {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (NOT_INPUTS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const changed = newestInput(path, builtAt, `${prefix}${entry.name}/`);
      if (changed) return changed;
    } else if (statSync(path).mtimeMs > builtAt) return `${prefix}${entry.name}`;
  }
  return undefined;
}
