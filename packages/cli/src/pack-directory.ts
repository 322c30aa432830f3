import { lstat, readdir, readFile, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { create as createTar } from "tar";
import { IgnoreRules } from "./ignore-rules.ts";

export interface PackResult {
  /** The gzipped tar archive. */
  data: Buffer;
  /** Archived paths, relative to the root, `/`-separated, sorted. */
  files: string[];
  /** Entries left out for a reason other than an ignore rule (links leaving the root, sockets). */
  skipped: { path: string; reason: string }[];
}

/**
 * Packs a function's directory as tar.gz for upload. Only regular files are archived, under
 * relative paths that cannot climb out of the root: a symlink is archived as the file it points to
 * when that file lies inside the root, and left out otherwise. Archives are reproducible (sorted,
 * no mtimes, no owners) so the same source yields the same digest.
 */
export async function packDirectory(root: string): Promise<PackResult> {
  const { files, skipped } = await listDirectory(root);
  const chunks: Buffer[] = [];
  const stream = createTar(
    { cwd: root, gzip: true, portable: true, noMtime: true, follow: true, noDirRecurse: true },
    files,
  );
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return { data: Buffer.concat(chunks), files, skipped };
}

/**
 * The files `kumo deploy` would upload (the same rules: .kumoignore, links kept inside the root),
 * without packing them; `kumo dev` and `kumo test` run exactly these.
 */
export async function listDirectory(root: string): Promise<Omit<PackResult, "data">> {
  const realRoot = await realpath(root);
  const rules = IgnoreRules.fromFile(await readOptional(join(root, ".kumoignore")));
  const files: string[] = [];
  const skipped: PackResult["skipped"] = [];

  async function walk(dir: string): Promise<void> {
    const entries = (await readdir(dir)).sort();
    for (const name of entries) {
      const full = join(dir, name);
      const path = relative(root, full).split(sep).join("/");
      const info = await lstat(full);
      if (info.isSymbolicLink()) {
        const target = await resolveLink(full);
        if (target === null) {
          skipped.push({ path, reason: "dangling symlink" });
        } else if (!isInside(realRoot, target.path)) {
          skipped.push({ path, reason: "symlink pointing outside the function directory" });
        } else if (!target.isFile) {
          skipped.push({ path, reason: "symlink to a directory" });
        } else if (!rules.ignores(path, false)) {
          files.push(path);
        }
      } else if (info.isDirectory()) {
        if (!rules.ignores(path, true)) await walk(full);
      } else if (info.isFile()) {
        if (!rules.ignores(path, false)) files.push(path);
      } else {
        skipped.push({ path, reason: "not a regular file" });
      }
    }
  }

  await walk(root);
  return { files, skipped };
}

async function resolveLink(path: string): Promise<{ path: string; isFile: boolean } | null> {
  try {
    const target = await realpath(path);
    return { path: target, isFile: (await stat(target)).isFile() };
  } catch {
    return null; // dangling
  }
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return null;
  }
}
