import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";

export interface TarEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "character-device" | "block-device" | "fifo";
  content?: string;
  linkname?: string;
}

/** Builds a tar archive in memory with exactly the given entries (names are not sanitized). */
export async function buildTar(entries: TarEntry[], options: { gzip?: boolean } = {}): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    archive.on("data", (chunk: Buffer) => chunks.push(chunk));
    archive.on("end", resolve);
    archive.on("error", reject);
  });
  for (const entry of entries) {
    const type = entry.type ?? "file";
    const header = {
      name: entry.name,
      type,
      mode: type === "directory" ? 0o755 : 0o644,
      ...(entry.linkname ? { linkname: entry.linkname } : {}),
      ...(type === "character-device" || type === "block-device" ? { devmajor: 1, devminor: 3 } : {}),
    };
    if (type === "file") archive.entry(header, entry.content ?? "");
    else archive.entry(header);
  }
  archive.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return options.gzip ? gzipSync(tar) : tar;
}

/**
 * About 1 KiB of gzip per MiB of zeros it inflates to: one gzip member of a MiB of zeros, repeated
 * (gunzip reads concatenated members as one stream), so a 1 GiB bomb is ~1 MB and instant to build.
 */
export function gzipBomb(zeroMiB: number): Buffer {
  const member = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
  return Buffer.concat(Array.from({ length: zeroMiB }, () => member));
}
