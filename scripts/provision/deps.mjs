// Step 1: node_modules. Runs before anything imports a dependency, so kumo.mjs itself must not.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { act, ok } from "./log.mjs";
import { which } from "./proc.mjs";
import { ProvisionError } from "./provision-error.mjs";

const STEP = "deps";

/**
 * Native addons (isolated-vm) build against Node's headers; node-gyp downloads them from nodejs.org
 * unless told where they are. When this Node's own headers sit next to it (Debian's nodejs ships
 * them in /usr/include/node) and match its version, npm is pointed at them: an install then needs
 * only the npm registry. An explicit `npm_config_nodedir` wins.
 * @returns {Record<string, string>}
 */
function localHeadersEnv() {
  if (process.env.npm_config_nodedir) return {};
  const prefix = dirname(dirname(process.execPath));
  let header;
  try {
    header = readFileSync(join(prefix, "include", "node", "node_version.h"), "utf8");
  } catch {
    return {};
  }
  /** @param {string} name */
  const part = (name) => new RegExp(`#define\\s+NODE_${name}_VERSION\\s+(\\d+)`).exec(header)?.[1];
  const version = `${part("MAJOR")}.${part("MINOR")}.${part("PATCH")}`;
  return version === process.versions.node ? { npm_config_nodedir: prefix } : {};
}

/**
 * Run `npm install` when node_modules is missing or older than the manifests. `npm install`
 * rather than `npm ci`: it keeps a working tree's node_modules and only fills in what changed.
 * @param {string} repoRoot
 */
export function ensureDeps(repoRoot) {
  const reason = staleReason(repoRoot);
  if (!reason) {
    ok(STEP, "node_modules up to date");
    return;
  }
  act(STEP, `npm install (${reason})`);
  const [command, args] = serialized(npmCommand());
  const result = spawnSync(command, [...args, "install", "--no-audit", "--no-fund"], {
    cwd: repoRoot,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ...localHeadersEnv() },
  });
  if (result.error || result.status !== 0) {
    throw new ProvisionError(STEP, "npm install failed", "see npm's output above");
  }
  // npm leaves the hidden lockfile untouched when nothing changed; touch it so a manifest whose
  // edit needed no install does not trigger `npm install` on every run.
  const stamp = stampFile(repoRoot);
  if (existsSync(stamp)) {
    const now = new Date();
    utimesSync(stamp, now, now);
  }
  ok(STEP, "node_modules installed");
}

/** @param {string} repoRoot */
function stampFile(repoRoot) {
  return join(repoRoot, "node_modules", ".package-lock.json");
}

/**
 * Why node_modules needs an install, or undefined when it is current.
 * @param {string} repoRoot
 */
function staleReason(repoRoot) {
  if (!existsSync(join(repoRoot, "node_modules"))) return "node_modules is missing";
  const stamp = stampFile(repoRoot);
  if (!existsSync(stamp)) return "node_modules/.package-lock.json is missing";
  const installedAt = statSync(stamp).mtimeMs;
  const manifests = ["package.json", "package-lock.json", ...workspaceManifests(repoRoot)];
  const changed = manifests.find((file) => statSync(join(repoRoot, file)).mtimeMs > installedAt);
  return changed ? `${changed} changed since the last install` : undefined;
}

/**
 * package.json of every workspace. Only the pattern forms this repo uses are understood
 * (`dir/*` and plain paths): a glob library is not available before `npm install`.
 * @param {string} repoRoot
 * @returns {string[]} paths relative to repoRoot
 */
function workspaceManifests(repoRoot) {
  const root = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"));
  const patterns = Array.isArray(root.workspaces) ? root.workspaces : (root.workspaces?.packages ?? []);
  const dirs = patterns.flatMap((pattern) => {
    if (!pattern.endsWith("/*")) return [pattern];
    const parent = pattern.slice(0, -2);
    if (!existsSync(join(repoRoot, parent))) return [];
    return readdirSync(join(repoRoot, parent), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `${parent}/${entry.name}`);
  });
  return dirs.map((dir) => `${dir}/package.json`).filter((file) => existsSync(join(repoRoot, file)));
}

/**
 * Two `npm test` runs started together in one checkout would otherwise both run `npm install`
 * into the same node_modules and can leave it half-written; flock(1) (util-linux, present on
 * Debian) makes the second wait. The lock file is shared with engineers' manual installs.
 * @param {[string, string[]]} npm
 * @returns {[string, string[]]}
 */
function serialized([command, args]) {
  const flock = which("flock");
  return flock ? [flock, [join(tmpdir(), "kumo-npm.lock"), command, ...args]] : [command, args];
}

/**
 * Under `npm test`, use the npm that runs us (npm_execpath) rather than whichever is on PATH.
 * @returns {[string, string[]]}
 */
function npmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath?.endsWith(".js")) return [process.execPath, [execPath]];
  return ["npm", []];
}
