#!/usr/bin/env node
// Builds Kumo's base and runtime images offline (no registry): a Debian rootfs from .debs
// (`apt-get download` + `dpkg-deb -x`), runtimes from npm packages (`npm pack`) and Debian, and
// the in-container shims from runtimes/<lang>/shim. Recipes: deploy/images/recipes.json and
// deploy/images/<name>/Dockerfile. Idempotent: an image whose tag `:<recipe digest>` exists is
// not rebuilt. Usage: node scripts/images.mjs [--only node,python] [--force] [--quiet]
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const imagesDir = join(repoRoot, "deploy/images");
const recipes = JSON.parse(fs.readFileSync(join(imagesDir, "recipes.json"), "utf8")).images;

/** Language names built by default (setup, `npm start`), mapped to the images they need (parents are added). */
/** "container" is the port bridge that custom images listening on a TCP port run behind. */
export const RUNTIME_LANGS = ["node", "bun", "deno", "python", "go", "container"];
/**
 * Every `lang` of a recipe, accepted by --only: the default ones plus pinned runtime versions
 * ("node22", "python3.13"), which are built only when asked for (the builder asks on first use).
 */
export const ALL_LANGS = [...new Set(Object.values(recipes).flatMap((r) => (r.lang ? [r.lang] : [])))];

const debianKeyring = "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]";
/** A Debian release's source list: the release, -updates, -backports and -security. */
const aptSourcesOf = (release) =>
  [
    ...[release, `${release}-updates`, `${release}-backports`].map(
      (suite) => `deb ${debianKeyring} http://deb.debian.org/debian ${suite} main`,
    ),
    `deb ${debianKeyring} http://deb.debian.org/debian-security ${release}-security main`,
  ].join("\n");
/** Recipes take .debs from bookworm unless they name another release (`"debian": "trixie"`). */
const DEFAULT_RELEASE = "bookworm";
/** Cache folder names of a release: bookworm keeps the names it had before releases were added. */
const releaseDir = (base, release) => (release === DEFAULT_RELEASE ? base : `${base}-${release}`);

// Paths dropped from every extracted rootfs: docs, manuals, translations, iconv modules.
const prunePaths = [
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
  "usr/share/lintian",
  "usr/share/gdb",
  "usr/share/gcc",
  "usr/share/zoneinfo/right",
  "usr/share/zoneinfo/posix",
  "usr/lib/x86_64-linux-gnu/gconv",
];

/** Image reference for a recipe name and digest, e.g. kumo/runtime-node:3f2a…. */
export function imageRef(name, tag = "latest") {
  return `kumo/${name}:${tag}`;
}

/**
 * Ensures the images for the given runtimes exist, building what is missing or outdated.
 * @param {{ only?: string[], force?: boolean, log?: (line: string) => void, dataDir?: string }} [options]
 * @returns {Promise<{ ok: boolean, images: Record<string, string>, built: string[], failed: Record<string, string>, seconds: number }>}
 */
export async function ensureImages(options = {}) {
  const log = options.log ?? ((line) => process.stdout.write(`[images] ${line}\n`));
  const only = options.only?.length ? options.only : RUNTIME_LANGS;
  for (const lang of only) if (!ALL_LANGS.includes(lang)) throw new Error(`unknown runtime "${lang}"`);
  const cacheDir = join(
    options.dataDir ?? process.env.KUMO_DATA_DIR ?? join(repoRoot, ".kumo"),
    "images-cache",
  );
  fs.mkdirSync(cacheDir, { recursive: true });
  const started = Date.now();
  const wanted = orderWithParents(Object.keys(recipes).filter((n) => only.includes(recipes[n].lang)));
  const digests = {};
  for (const name of wanted) digests[name] = recipeDigest(name, digests);
  const result = { ok: true, images: {}, built: [], failed: {}, seconds: 0 };
  const release = await acquireLock(join(cacheDir, "build.lock"), log);
  try {
    for (const name of wanted) {
      const parent = recipes[name].from;
      if (parent && result.failed[parent]) {
        result.failed[name] = `parent image ${parent} failed`;
        continue;
      }
      const ref = imageRef(name, digests[name]);
      try {
        if (!options.force && imageExists(ref)) {
          docker(["tag", ref, imageRef(name)]);
          log(`${name}: up to date (${ref})`);
        } else {
          const t0 = Date.now();
          log(`${name}: building ${ref}`);
          await buildImage(name, digests, cacheDir, log);
          result.built.push(name);
          log(`${name}: built in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${imageSizeMb(ref)} MB`);
          removeOutdated(name, digests[name]);
        }
        result.images[name] = ref;
      } catch (err) {
        result.failed[name] = err instanceof Error ? err.message : String(err);
        log(`${name}: FAILED: ${result.failed[name]}`);
      }
    }
  } finally {
    release();
  }
  result.ok = Object.keys(result.failed).length === 0;
  result.seconds = Math.round((Date.now() - started) / 100) / 10;
  return result;
}

function orderWithParents(names) {
  const out = [];
  const visit = (name) => {
    if (out.includes(name)) return;
    if (recipes[name].from) visit(recipes[name].from);
    out.push(name);
  };
  for (const name of names) visit(name);
  return out;
}

/** Digest of everything that goes into an image except downloaded bytes (pinned by version). */
function recipeDigest(name, parentDigests) {
  const hash = createHash("sha256");
  const recipe = recipes[name];
  hash.update(JSON.stringify(recipe));
  hash.update(fs.readFileSync(dockerfileOf(name)));
  if (recipe.from) hash.update(parentDigests[recipe.from]);
  for (const src of Object.keys(recipe.copy ?? {})) {
    for (const file of listFiles(join(repoRoot, src))) {
      hash.update(relative(repoRoot, file));
      hash.update(fs.readFileSync(file));
    }
  }
  if (isBase(name) && process.env.KUMO_EXTRA_CA_CERTS)
    hash.update(fs.readFileSync(process.env.KUMO_EXTRA_CA_CERTS));
  if (!isBase(name)) hash.update(process.env.KUMO_BASE_FROM ?? "");
  return hash.digest("hex").slice(0, 16);
}

/** A recipe may share another's Dockerfile (`"dockerfile": "runtime-node"` for every Node version). */
function dockerfileOf(name) {
  return join(imagesDir, recipes[name].dockerfile ?? name, "Dockerfile");
}

/** Base images (a Debian rootfs of their own release): "base", "base-trixie". */
function isBase(name) {
  return !recipes[name].from;
}

function listFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => !file.includes("/node_modules/") && !file.includes("__pycache__"))
    .sort();
}

async function buildImage(name, digests, cacheDir, log) {
  const recipe = recipes[name];
  const ctx = join(cacheDir, "ctx", name);
  fs.rmSync(ctx, { recursive: true, force: true });
  fs.mkdirSync(join(ctx, "rootfs"), { recursive: true });
  fs.copyFileSync(dockerfileOf(name), join(ctx, "Dockerfile"));
  if (recipe.debs) {
    for (const deb of downloadDebs(recipe.debs, recipe.debian ?? DEFAULT_RELEASE, cacheDir, log)) {
      execFileSync("dpkg-deb", ["-x", deb, join(ctx, "rootfs")]);
    }
    for (const path of prunePaths) fs.rmSync(join(ctx, "rootfs", path), { recursive: true, force: true });
  }
  if (recipe.npm) {
    const tarball = npmPack(recipe.npm.spec, cacheDir, log);
    const unpacked = join(ctx, "npm");
    fs.mkdirSync(unpacked, { recursive: true });
    execFileSync("tar", ["-xzf", tarball, "-C", unpacked, ...Object.keys(recipe.npm.files)]);
    for (const [from, to] of Object.entries(recipe.npm.files)) {
      fs.mkdirSync(dirname(join(ctx, to)), { recursive: true });
      fs.renameSync(join(unpacked, from), join(ctx, to));
      fs.chmodSync(join(ctx, to), 0o755);
    }
    fs.rmSync(unpacked, { recursive: true, force: true });
  }
  for (const [from, to] of Object.entries(recipe.copy ?? {})) {
    fs.cpSync(join(repoRoot, from), join(ctx, to), {
      recursive: true,
      filter: (src) => !src.includes("node_modules") && !src.includes("__pycache__"),
    });
  }
  // Links a .deb's maintainer scripts would make (dash's /bin/sh), relative to the build context.
  for (const [link, target] of Object.entries(recipe.symlinks ?? {})) {
    fs.mkdirSync(dirname(join(ctx, link)), { recursive: true });
    fs.rmSync(join(ctx, link), { force: true });
    fs.symlinkSync(target, join(ctx, link));
  }
  if (isBase(name)) prepareBaseRootfs(join(ctx, "rootfs"));
  const baseFrom = process.env.KUMO_BASE_FROM || imageRef("base", digests.base);
  const buildArgs = ["--build-arg", `KUMO_BASE_FROM=${baseFrom}`];
  // The parent recipe's exact image, for Dockerfiles shared by several recipes (FROM ${KUMO_PARENT_FROM}).
  if (recipe.from)
    buildArgs.push("--build-arg", `KUMO_PARENT_FROM=${imageRef(recipe.from, digests[recipe.from])}`);
  if (digests["runtime-go-build"]) {
    buildArgs.push(
      "--build-arg",
      `KUMO_GO_BUILD_FROM=${imageRef("runtime-go-build", digests["runtime-go-build"])}`,
    );
  }
  const args = ["build", "-q", "--force-rm", "-t", imageRef(name, digests[name]), "-t", imageRef(name)];
  args.push(
    "--label",
    `dev.kumo.recipe=${digests[name]}`,
    "--label",
    `dev.kumo.image=${name}`,
    ...buildArgs,
    ctx,
  );
  await dockerBuild(args);
  fs.rmSync(ctx, { recursive: true, force: true });
}

/** Adds what a .deb does not bring: the CA bundle, the non-root user, writable dirs. */
function prepareBaseRootfs(rootfs) {
  const caDir = join(rootfs, "usr/share/ca-certificates");
  const certs = listFiles(caDir).filter((f) => f.endsWith(".crt"));
  let bundle = certs.map((f) => fs.readFileSync(f, "utf8").trim()).join("\n");
  if (process.env.KUMO_EXTRA_CA_CERTS)
    bundle += `\n${fs.readFileSync(process.env.KUMO_EXTRA_CA_CERTS, "utf8").trim()}`;
  fs.mkdirSync(join(rootfs, "etc/ssl/certs"), { recursive: true });
  fs.writeFileSync(join(rootfs, "etc/ssl/certs/ca-certificates.crt"), `${bundle}\n`);
  fs.rmSync(caDir, { recursive: true, force: true });
  fs.rmSync(join(rootfs, "usr/sbin"), { recursive: true, force: true });
  fs.writeFileSync(
    join(rootfs, "etc/passwd"),
    "root:x:0:0:root:/root:/sbin/nologin\nkumo:x:10001:10001:kumo:/tmp:/sbin/nologin\n",
  );
  fs.writeFileSync(join(rootfs, "etc/group"), "root:x:0:\nkumo:x:10001:\n");
  fs.writeFileSync(join(rootfs, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  fs.symlinkSync("/usr/share/zoneinfo/Etc/UTC", join(rootfs, "etc/localtime"));
  for (const dir of ["tmp", "var/task", "run/kumo", "root"])
    fs.mkdirSync(join(rootfs, dir), { recursive: true });
  fs.chmodSync(join(rootfs, "tmp"), 0o1777);
}

function downloadDebs(names, release, cacheDir, log) {
  const debDir = join(cacheDir, releaseDir("debs", release));
  fs.mkdirSync(debDir, { recursive: true });
  const cached = () => fs.readdirSync(debDir);
  const find = (pkg) => cached().find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
  const missing = names.filter((pkg) => !find(pkg));
  if (missing.length > 0) {
    const aptSources = aptSourcesOf(release);
    const opts = aptOptions(cacheDir, release);
    const marker = join(cacheDir, releaseDir("apt", release), "updated");
    const listsFresh =
      fs.existsSync(marker) &&
      fs.readFileSync(marker, "utf8") === aptSources &&
      Date.now() - fs.statSync(marker).mtimeMs < 86_400_000;
    if (!listsFresh) {
      log(`apt-get update (private source list: ${release}, -updates, -security, -backports)`);
      execFileSync("apt-get", [...opts, "update"], { stdio: "ignore" });
      fs.writeFileSync(marker, aptSources);
    }
    log(`apt-get download ${missing.join(" ")}`);
    execFileSync("apt-get", [...opts, "download", ...missing], {
      cwd: debDir,
      stdio: ["ignore", "ignore", "pipe"],
    });
  }
  return names.map((pkg) => {
    const file = find(pkg);
    if (!file) throw new Error(`package ${pkg} was not downloaded`);
    return join(debDir, file);
  });
}

/** apt options that use a private source list and state, leaving the host's apt setup alone. */
function aptOptions(cacheDir, release) {
  const aptDir = join(cacheDir, releaseDir("apt", release));
  fs.mkdirSync(join(aptDir, "lists/partial"), { recursive: true });
  fs.mkdirSync(join(aptDir, "cache/archives/partial"), { recursive: true });
  fs.writeFileSync(join(aptDir, "sources.list"), `${aptSourcesOf(release)}\n`);
  return [
    "-q",
    "-o",
    `Dir::Etc::SourceList=${join(aptDir, "sources.list")}`,
    "-o",
    "Dir::Etc::SourceParts=/dev/null",
    "-o",
    `Dir::State::Lists=${join(aptDir, "lists")}`,
    "-o",
    `Dir::Cache=${join(aptDir, "cache")}`,
    "-o",
    "APT::Sandbox::User=root",
    "-o",
    "APT::Default-Release=",
  ];
}

function npmPack(spec, cacheDir, log) {
  const npmDir = join(cacheDir, "npm");
  fs.mkdirSync(npmDir, { recursive: true });
  const expected = `${spec.replace(/^@/, "").replace("/", "-").replace("@", "-")}.tgz`;
  if (!fs.existsSync(join(npmDir, expected))) {
    log(`npm pack ${spec}`);
    const out = execFileSync("npm", ["pack", spec, "--silent"], { cwd: npmDir, encoding: "utf8" }).trim();
    const file = out.split("\n").pop() ?? "";
    if (file !== expected) fs.renameSync(join(npmDir, file), join(npmDir, expected));
  }
  return join(npmDir, expected);
}

function docker(args) {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

function imageExists(ref) {
  try {
    docker(["image", "inspect", "--format", "{{.Id}}", ref]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Recipe images of a name kept besides the current one: another checkout on the same Docker engine
 * (or a platform still running from an older commit) may be using an older recipe's image, and
 * removing it under a running builder made its next build try to pull it.
 */
const KEEP_OLDER_RECIPES = 3;

/** Drops images of older recipes of this name beyond the newest few (best effort: one in use stays). */
function removeOutdated(name, digest) {
  const rows = docker([
    "images",
    "--filter",
    `label=dev.kumo.image=${name}`,
    "--format",
    "{{.Repository}}:{{.Tag}}\t{{.CreatedAt}}",
  ]);
  const stale = rows
    .split("\n")
    .map((row) => row.split("\t"))
    .filter(([ref]) => ref?.startsWith("kumo/") && !ref.endsWith(`:${digest}`) && !ref.endsWith(":latest"))
    .sort((a, b) => (b[1] ?? "").localeCompare(a[1] ?? ""))
    .slice(KEEP_OLDER_RECIPES)
    .map(([ref]) => ref);
  for (const ref of stale) {
    try {
      docker(["rmi", ref]);
    } catch {
      // in use by a container: it goes the next time
    }
  }
}

function imageSizeMb(ref) {
  return Math.round(Number(docker(["image", "inspect", "--format", "{{.Size}}", ref])) / 1e5) / 10;
}

function dockerBuild(args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn("docker", args, {
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const tail = output
        .split("\n")
        .filter((l) => l.trim() && !/legacy builder|BuildKit|environment-variable/.test(l));
      if (code === 0) resolvePromise();
      else reject(new Error(`docker build exited ${code}: ${tail.slice(-8).join(" | ")}`));
    });
  });
}

/** One build at a time across processes (setup, parallel test workers): a mkdir lock with a pid. */
async function acquireLock(path, log) {
  let waited = false;
  for (;;) {
    try {
      fs.mkdirSync(path);
      fs.writeFileSync(join(path, "pid"), String(process.pid));
      return () => fs.rmSync(path, { recursive: true, force: true });
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      const pid = Number(fs.readFileSync(join(path, "pid"), { encoding: "utf8", flag: "a+" }));
      const age = Date.now() - fs.statSync(path).mtimeMs;
      if ((pid && !isAlive(pid)) || (!pid && age > 10_000)) {
        fs.rmSync(path, { recursive: true, force: true });
        continue;
      }
      if (!waited) log(`waiting for another image build (pid ${pid || "?"})`);
      waited = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function main(argv) {
  const onlyIndex = argv.indexOf("--only");
  const only = onlyIndex === -1 ? undefined : (argv[onlyIndex + 1] ?? "").split(",").filter(Boolean);
  const quiet = argv.includes("--quiet");
  const result = await ensureImages({
    only,
    force: argv.includes("--force"),
    log: quiet ? () => {} : undefined,
  });
  for (const ref of Object.values(result.images)) process.stdout.write(`[images] ok      ${ref}\n`);
  for (const [name, why] of Object.entries(result.failed))
    process.stdout.write(`[images] FAILED  ${name}: ${why}\n`);
  process.stdout.write(
    `[images] ${result.ok ? "all images ready" : "some images failed"} in ${result.seconds} s\n`,
  );
  process.exitCode = result.ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
