import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { describe, expect, it } from "vitest";
import { readSourceArchive } from "./read-source-archive.ts";
import { sourceDigest } from "./source-digest.ts";

type Entry = {
  name: string;
  type?: "file" | "symlink" | "link" | "character-device" | "directory";
  content?: string;
  linkname?: string;
};

async function tar(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => p.on("end", () => resolve()));
  for (const e of entries) {
    const type = e.type ?? "file";
    const header = { name: e.name, type, ...(e.linkname ? { linkname: e.linkname } : {}) };
    if (type === "file") p.entry(header, e.content ?? "");
    else p.entry(header);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

const MiB = 1024 * 1024;

/**
 * A gzip of `prefix` followed by `zeroMiB` MiB of zeros, about 1 KiB per MiB: concatenated gzip
 * members each inflate one MiB of zeros, so a 1 GiB bomb takes milliseconds to build.
 */
function gzipBomb(prefix: Buffer, zeroMiB: number): Buffer {
  const member = gzipSync(Buffer.alloc(MiB), { level: 9 });
  return Buffer.concat([gzipSync(prefix), ...Array.from({ length: zeroMiB }, () => member)]);
}

describe("source archive", () => {
  it("source archive - reads tar and tar.gz into normalized paths", async () => {
    const archive = await tar([
      { name: "./src/", type: "directory" },
      { name: "./src/a.ts", content: "A" },
      { name: "kumo.json", content: "{}" },
    ]);
    for (const body of [archive, gzipSync(archive)]) {
      const files = await readSourceArchive(body);
      expect([...files.keys()].sort()).toEqual(["kumo.json", "src/a.ts"]);
      expect(Buffer.from(files.get("src/a.ts") ?? []).toString()).toBe("A");
    }
  });

  it.each([
    [[{ name: "../evil.js", content: "x" }], /leaves the source tree/],
    [[{ name: "a/../../evil.js", content: "x" }], /leaves the source tree/],
    [[{ name: "/etc/passwd", content: "x" }], /absolute/],
    [[{ name: "link", type: "symlink", linkname: "/etc/passwd" }], /symlink/],
    [[{ name: "hard", type: "link", linkname: "x" }], /link/],
    [[{ name: "dev", type: "character-device" }], /character-device/],
  ] as [Entry[], RegExp][])("source archive - refuses %j", async (entries, message) => {
    await expect(readSourceArchive(await tar(entries))).rejects.toMatchObject({
      code: "FN_006",
      message: expect.stringMatching(message),
    });
  });

  it("source archive - refuses garbage, empty archives and archives over the limits", async () => {
    await expect(
      readSourceArchive(Buffer.from("definitely not a tar archive".repeat(40))),
    ).rejects.toMatchObject({ code: "FN_006" });
    await expect(readSourceArchive(gzipSync(Buffer.from("garbage")))).rejects.toMatchObject({
      code: "FN_006",
    });
    await expect(readSourceArchive(await tar([]))).rejects.toMatchObject({
      code: "FN_006",
      message: /no files/,
    });
    const many = await tar(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, content: "x" })));
    await expect(
      readSourceArchive(many, { maxFiles: 4, maxBytes: 1000, maxFileBytes: 1000 }),
    ).rejects.toMatchObject({ code: "FN_010" });
    const big = await tar([{ name: "big", content: "x".repeat(2000) }]);
    await expect(
      readSourceArchive(big, { maxFiles: 4, maxBytes: 1000, maxFileBytes: 1000 }),
    ).rejects.toMatchObject({ code: "FN_010", message: /big/ });
  });

  it("source archive - the digest ignores order and differs with content", async () => {
    const a = await readSourceArchive(
      await tar([
        { name: "a", content: "1" },
        { name: "b", content: "2" },
      ]),
    );
    const b = await readSourceArchive(
      await tar([
        { name: "b", content: "2" },
        { name: "a", content: "1" },
      ]),
    );
    const c = await readSourceArchive(
      await tar([
        { name: "a", content: "1" },
        { name: "b", content: "3" },
      ]),
    );
    expect(sourceDigest(a)).toBe(sourceDigest(b));
    expect(sourceDigest(a)).not.toBe(sourceDigest(c));
  });

  it("source archive - a gzip of 1 GiB of zeros is refused FN_010 after inflating about the limit, not all of it", async () => {
    const bomb = gzipBomb(Buffer.alloc(0), 1024);
    expect(bomb.length).toBeLessThan(1.5 * MiB);
    const started = performance.now();
    const error = await readSourceArchive(bomb).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; details: Record<string, number> },
    );
    const elapsedMs = performance.now() - started;
    expect(error?.code, error?.message).toBe("FN_010");
    expect(error?.message).toContain(String(50 * MiB));
    const { archiveLimitBytes, inflatedBytes } = error?.details ?? {};
    expect(inflatedBytes).toBeGreaterThan(archiveLimitBytes ?? 0);
    // Stops within one zlib chunk of the limit: nowhere near the 1 GiB the upload expands to.
    expect(inflatedBytes).toBeLessThanOrEqual((archiveLimitBytes ?? 0) + 64 * 1024);
    expect(archiveLimitBytes).toBeLessThan(100 * MiB);
    // Inflating the whole GiB takes 8-16 s on these machines; the limit is reached in well under 1 s.
    expect(elapsedMs).toBeLessThan(3000);
  });

  it("source archive - a valid file followed by zeros past the limit is refused, not deployed", async () => {
    const limits = { maxFiles: 4, maxBytes: MiB, maxFileBytes: MiB };
    const bomb = gzipBomb(await tar([{ name: "index.js", content: "export default {}" }]), 64);
    await expect(readSourceArchive(bomb, limits)).rejects.toMatchObject({
      code: "FN_010",
      details: { limitBytes: MiB, inflatedBytes: expect.any(Number) },
    });
    // The same file with zeros inside the limit (tar skips zero blocks) still reads.
    const small = gzipBomb(await tar([{ name: "index.js", content: "export default {}" }]), 1);
    expect([...(await readSourceArchive(small, limits)).keys()]).toEqual(["index.js"]);
  });
});
