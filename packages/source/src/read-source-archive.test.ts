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
});
