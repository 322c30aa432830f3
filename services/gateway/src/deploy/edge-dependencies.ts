import { createHash, randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { KumoError } from "@kumo/core";
import { packSourceArchive, readSourceArchive, type SourceFiles } from "@kumo/source";

/** Bumped when what decides an install (the reduced manifest below) changes meaning. */
const RECIPE = "kumo-edge-deps/1";
/** What a node_modules tar from the builder may hold: more than a source upload, still bounded. */
const NODE_MODULES_LIMITS = {
  maxBytes: 512 * 1024 * 1024,
  maxFiles: 100_000,
  maxFileBytes: 64 * 1024 * 1024,
};
const WRITE_BATCH = 64;

/** The builder's side of an edge install (BuildClient.installEdgeDependencies). */
export interface EdgeDependencyInstaller {
  installEdgeDependencies(
    request: {
      tenantId: string;
      functionName: string;
      manifestsTar: Buffer;
      deploymentId: string;
      cachedOnly: boolean;
    },
    options: { onLog?: (line: string) => void },
  ): Promise<{ result: { cached: boolean; files: number; bytes: number }; tar: Buffer }>;
}

/** An edge function's npm dependencies: what decides the install, and its cache key. */
export interface EdgeDependencySet {
  /** sha256 hex of the recipe, the reduced package.json, the lockfile and .npmrc. */
  key: string;
  /** package.json reduced to what decides the install, plus the lockfile and .npmrc when present. */
  manifests: SourceFiles;
  /** Direct dependencies (dependencies, optionalDependencies and peerDependencies). */
  count: number;
  lockfile: string | undefined;
}

const LOCKFILES = ["package-lock.json", "npm-shrinkwrap.json"] as const;
const FIELDS_WITHOUT_LOCK = [
  "dependencies",
  "optionalDependencies",
  "peerDependencies",
  "overrides",
] as const;

/**
 * The dependency set of an edge function's source, or undefined when it has nothing to install (no
 * package.json, or one without dependencies: the deploy then never calls the builder). The key
 * covers only what changes the install (dependency fields, lockfile, .npmrc), so a code-only
 * redeploy, or a change of "version" or "scripts", reuses the install.
 */
export function edgeDependencySet(files: SourceFiles): EdgeDependencySet | undefined {
  const raw = files.get("package.json");
  if (!raw) return undefined;
  let pkg: unknown;
  try {
    pkg = JSON.parse(Buffer.from(raw).toString("utf8"));
  } catch (error) {
    throw new KumoError("FN_006", `package.json is not valid JSON: ${(error as Error).message}`);
  }
  if (!isRecord(pkg)) throw new KumoError("FN_006", "package.json must be a JSON object");
  const lockfile = LOCKFILES.find((name) => files.has(name));
  // npm ci refuses a package.json out of step with its lockfile, dev dependencies included.
  const fields = lockfile ? [...FIELDS_WITHOUT_LOCK, "devDependencies"] : FIELDS_WITHOUT_LOCK;
  const reduced: Record<string, unknown> = {
    name: typeof pkg.name === "string" ? pkg.name : "edge-function",
  };
  let count = 0;
  for (const field of fields) {
    const value = pkg[field];
    if (value === undefined) continue;
    if (!isRecord(value)) {
      throw new KumoError("FN_006", `package.json "${field}" must be an object of package names to versions`);
    }
    reduced[field] = value;
    if (field !== "overrides" && field !== "devDependencies") count += Object.keys(value).length;
  }
  if (count === 0) return undefined;
  const manifests: SourceFiles = new Map([["package.json", Buffer.from(JSON.stringify(reduced, null, 2))]]);
  for (const name of [...LOCKFILES, ".npmrc"]) {
    const content = files.get(name);
    if (content) manifests.set(name, content);
  }
  const hash = createHash("sha256").update(RECIPE);
  for (const [name, content] of [...manifests].sort(([a], [b]) => a.localeCompare(b)))
    hash.update(`\0${name}\0`).update(content);
  return { key: hash.digest("hex"), manifests, count, lockfile };
}

export interface NodeModulesOptions {
  functionName: string;
  deploymentId: string;
  /** False for draft runs: use an install made before, never start one (FN_006 when there is none). */
  install: boolean;
  onLog?: (line: string) => void;
}

/** Where a dependency set's node_modules came from for this bundle. */
export type NodeModulesSource = "gateway cache" | "builder cache" | "installed";

/**
 * Installed edge dependencies as directories esbuild resolves from:
 * `<cacheDir>/<tenant>/<key>/node_modules`. A set this gateway has seen is used from disk (no
 * builder call); otherwise the builder installs it (or finds its own cached install) and the tar
 * it returns is written out once, atomically (a rename), so concurrent deploys share it.
 */
export class EdgeDependencies {
  readonly #cacheDir: string;
  readonly #installer: EdgeDependencyInstaller | undefined;
  readonly #pending = new Map<string, Promise<NodeModulesSource>>();

  constructor(options: { cacheDir: string; installer?: EdgeDependencyInstaller | undefined }) {
    this.#cacheDir = options.cacheDir;
    this.#installer = options.installer;
  }

  /** The directory holding node_modules for the set, and where it came from. */
  async nodeModules(
    tenantId: string,
    set: EdgeDependencySet,
    options: NodeModulesOptions,
  ): Promise<{ dir: string; source: NodeModulesSource }> {
    const dir = join(this.#cacheDir, tenantId, set.key);
    if (await exists(dir)) return { dir, source: "gateway cache" };
    const id = `${tenantId}/${set.key}`;
    let pending = this.#pending.get(id);
    if (!pending) {
      pending = this.#fetch(tenantId, set, dir, options).finally(() => this.#pending.delete(id));
      this.#pending.set(id, pending);
    }
    return { dir, source: await pending };
  }

  async #fetch(
    tenantId: string,
    set: EdgeDependencySet,
    dir: string,
    options: NodeModulesOptions,
  ): Promise<NodeModulesSource> {
    if (!this.#installer) {
      throw new KumoError(
        "FN_006",
        "edge functions with npm dependencies are installed by the builder service, and this gateway has none configured (KUMO_BUILDER_URL)",
      );
    }
    const { result, tar } = await this.#installer.installEdgeDependencies(
      {
        tenantId,
        functionName: options.functionName,
        manifestsTar: await packSourceArchive(set.manifests),
        deploymentId: options.deploymentId,
        cachedOnly: !options.install,
      },
      options.onLog ? { onLog: options.onLog } : {},
    );
    const files = await readSourceArchive(tar, NODE_MODULES_LIMITS);
    const partial = `${dir}.partial-${randomBytes(4).toString("hex")}`;
    try {
      const entries = [...files];
      for (let at = 0; at < entries.length; at += WRITE_BATCH) {
        await Promise.all(
          entries.slice(at, at + WRITE_BATCH).map(async ([path, content]) => {
            const target = join(partial, path);
            await mkdir(dirname(target), { recursive: true });
            await writeFile(target, content);
          }),
        );
      }
      await mkdir(join(partial, "node_modules"), { recursive: true });
      await rename(partial, dir).catch(async (error: unknown) => {
        // Another gateway process sharing the data directory wrote it first: theirs is the same.
        if (!(await exists(dir))) throw error;
      });
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
    return result.cached ? "builder cache" : "installed";
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
