import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { list as listTar } from "tar";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IgnoreRules } from "../../packages/cli/src/ignore-rules.ts";
import { packDirectory } from "../../packages/cli/src/pack-directory.ts";

let root: string;
let outside: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "kumo-pack-"));
  outside = await mkdtemp(join(tmpdir(), "kumo-outside-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

async function write(path: string, content = "x"): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

/** Entry paths and types of a tar.gz, read back with the same library a server would use. */
async function entriesOf(data: Buffer): Promise<{ path: string; type: string; size: number }[]> {
  const entries: { path: string; type: string; size: number }[] = [];
  const parser = listTar({
    onReadEntry: (entry) => entries.push({ path: entry.path, type: entry.type, size: entry.size }),
  });
  await new Promise<void>((resolve, reject) => {
    Readable.from([data]).pipe(parser).on("end", resolve).on("error", reject);
  });
  return entries;
}

describe("pack - directory to tar.gz", () => {
  it("skips node_modules, .git and .kumo at any depth and keeps the rest", async () => {
    await write("kumo.json", "{}");
    await write("src/index.js", "export default {}");
    await write("node_modules/dep/index.js");
    await write("src/node_modules/x.js");
    await write(".git/HEAD");
    await write(".kumo/cache");
    await write(".gitignore");
    const pack = await packDirectory(root);
    expect(pack.files).toEqual([".gitignore", "kumo.json", "src/index.js"]);
    const entries = await entriesOf(pack.data);
    expect(entries.map((e) => e.path)).toEqual(pack.files);
    expect(entries.every((e) => e.type === "File")).toBe(true);
    expect(pack.data.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  });

  it("respects .kumoignore globs, anchors, directory rules and negation", async () => {
    await write(
      ".kumoignore",
      ["# comment", "*.log", "/build", "docs/", "secret?.txt", "**/fixtures/**", "!keep.log", ""].join("\n"),
    );
    for (const path of [
      "a.log",
      "sub/b.log",
      "keep.log",
      "build/out.js",
      "sub/build/kept.js",
      "docs/readme.md",
      "secret1.txt",
      "secret10.txt",
      "test/fixtures/deep/f.json",
      "index.js",
    ]) {
      await write(path);
    }
    const pack = await packDirectory(root);
    expect(pack.files).toEqual([".kumoignore", "index.js", "keep.log", "secret10.txt", "sub/build/kept.js"]);
  });

  it("never archives a path that leaves the root: outside symlinks are skipped, inside ones become files", async () => {
    await write("index.js", "real");
    await writeFile(join(outside, "passwd"), "root:x:0:0");
    await symlink(join(outside, "passwd"), join(root, "stolen"));
    await symlink(outside, join(root, "outdir"));
    await symlink("index.js", join(root, "alias.js"));
    await symlink("missing", join(root, "dangling"));
    const pack = await packDirectory(root);
    expect(pack.files).toEqual(["alias.js", "index.js"]);
    expect(pack.skipped.map((s) => s.path).sort()).toEqual(["dangling", "outdir", "stolen"]);
    const entries = await entriesOf(pack.data);
    for (const entry of entries) {
      expect(entry.path.startsWith("/")).toBe(false);
      expect(entry.path.split("/")).not.toContain("..");
      expect(entry.type).toBe("File");
    }
    expect(entries.find((e) => e.path === "alias.js")?.size).toBe(4);
  });

  it("is reproducible: the same tree gives the same bytes", async () => {
    await write("b.js", "b");
    await write("a/c.js", "c");
    const first = await packDirectory(root);
    await utimes(join(root, "b.js"), new Date(1_000_000), new Date(1_000_000));
    const second = await packDirectory(root);
    expect(second.data.equals(first.data)).toBe(true);
  });
});

describe("pack - ignore rules", () => {
  it("matches unanchored patterns at any depth and anchored ones at the root only", () => {
    const rules = new IgnoreRules(["*.tmp", "/dist", "cache/", "a/**/z"]);
    expect(rules.ignores("x.tmp", false)).toBe(true);
    expect(rules.ignores("deep/y.tmp", false)).toBe(true);
    expect(rules.ignores("dist", true)).toBe(true);
    expect(rules.ignores("src/dist", true)).toBe(false);
    expect(rules.ignores("cache", true)).toBe(true);
    expect(rules.ignores("cache", false)).toBe(false);
    expect(rules.ignores("a/z", false)).toBe(true);
    expect(rules.ignores("a/b/c/z", false)).toBe(true);
    expect(rules.ignores("xa/z", false)).toBe(false);
  });
});
