import { createHash } from "node:crypto";
import type { SourceFiles } from "./read-source-archive.ts";

/** Content digest of a source tree, independent of archive order, timestamps and owners. */
export function sourceDigest(files: SourceFiles): string {
  const hash = createHash("sha256");
  for (const path of [...files.keys()].sort()) {
    const content = files.get(path) ?? new Uint8Array();
    hash.update(`${path}\0${content.byteLength}\0`);
    hash.update(content);
  }
  return `sha256:${hash.digest("hex")}`;
}
