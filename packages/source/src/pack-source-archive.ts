import { pack } from "tar-stream";
import type { SourceFiles } from "./read-source-archive.ts";

/**
 * Packs a source tree into a plain tar, deterministically (sorted paths, mtime 0, mode 0644, owner 0),
 * so the same files always give the same bytes. Directories are implied by the paths.
 */
export async function packSourceArchive(files: SourceFiles): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on("data", (chunk) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on("end", () => resolve());
    tar.on("error", reject);
  });
  for (const path of [...files.keys()].sort()) {
    const content = Buffer.from(files.get(path) ?? new Uint8Array());
    tar.entry({ name: path, size: content.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }, content);
  }
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}
