// The web console (packages/console): built by Vite into packages/console/dist, which the gateway
// serves at `/`. Built here, before the platform starts, so no build ever runs in a request.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { act, ok } from "./log.mjs";
import { ProvisionError } from "./provision-error.mjs";

const STEP = "console";
/** What the build reads; a change to any of them makes dist stale. */
const INPUTS = ["src", "index.html", "vite.config.ts", "package.json", "tsconfig.json"];
/** Written after a successful build; its mtime is the build's. */
const STAMP = ".built";

/**
 * Build the console with Vite when dist is missing or older than its sources (a few seconds);
 * nothing to do otherwise. Idempotent.
 * @param {string} repoRoot
 */
export function ensureConsole(repoRoot) {
  const dir = join(repoRoot, "packages", "console");
  const reason = staleReason(dir);
  if (!reason) {
    ok(STEP, "packages/console/dist up to date");
    return;
  }
  act(STEP, `vite build (${reason})`);
  const started = Date.now();
  const vite = join(repoRoot, "node_modules", "vite", "bin", "vite.js");
  const result = spawnSync(process.execPath, [vite, "build", "--logLevel", "warn"], {
    cwd: dir,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.error || result.status !== 0) {
    throw new ProvisionError(STEP, "vite build of packages/console failed", "see Vite's output above");
  }
  writeFileSync(join(dir, "dist", STAMP), new Date().toISOString());
  ok(STEP, `built packages/console/dist in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

/**
 * Why the console needs a build, or undefined when dist is current.
 * @param {string} dir
 */
function staleReason(dir) {
  const stamp = join(dir, "dist", STAMP);
  if (!existsSync(stamp)) return "packages/console/dist is missing";
  const builtAt = statSync(stamp).mtimeMs;
  for (const input of INPUTS) {
    const path = join(dir, input);
    if (existsSync(path) && newestMtime(path) > builtAt) return `packages/console/${input} changed`;
  }
  return undefined;
}

/** @param {string} path */
function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}
