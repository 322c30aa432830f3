import { Readable } from "node:stream";
import { extract, pack } from "tar-stream";

export interface RegularFilesTar {
  tar: Buffer;
  files: number;
  /** Bytes of file content. */
  bytes: number;
  /** Entries left out: links, devices, and npm's `.bin` shims. */
  dropped: number;
}

/**
 * Rewrites a tar (as the engine's archive API returns it) keeping directories and regular files
 * only, with fixed modes and times. The reader on the other side (readSourceArchive) refuses links,
 * which npm makes for `node_modules/.bin`; nothing bundled ever imports those.
 */
export async function regularFilesTar(archive: AsyncIterable<Uint8Array> | Buffer): Promise<RegularFilesTar> {
  const input = Buffer.isBuffer(archive) ? Readable.from([archive]) : Readable.from(archive);
  const reader = extract();
  const writer = pack();
  const chunks: Buffer[] = [];
  writer.on("data", (chunk: Buffer) => chunks.push(chunk));
  const written = new Promise<void>((resolve, reject) => {
    writer.on("end", () => resolve());
    writer.on("error", reject);
  });
  let files = 0;
  let bytes = 0;
  let dropped = 0;
  const read = new Promise<void>((resolve, reject) => {
    reader.on("entry", (header, stream, next) => {
      const name = header.name.replace(/^\.\//, "");
      const type = header.type ?? "file";
      const keep =
        (type === "file" || type === "contiguous-file" || type === "directory") &&
        !name.split("/").includes(".bin");
      if (!keep) {
        if (type !== "pax-header" && type !== "pax-global-header") dropped++;
        stream.on("end", next);
        stream.resume();
        return;
      }
      if (type === "directory") {
        writer.entry({ name, type: "directory", mode: 0o755, mtime: new Date(0) });
        stream.on("end", next);
        stream.resume();
        return;
      }
      const parts: Buffer[] = [];
      stream.on("data", (part: Buffer) => parts.push(part));
      stream.on("end", () => {
        const content = Buffer.concat(parts);
        files++;
        bytes += content.length;
        writer.entry({ name, size: content.length, mode: 0o644, mtime: new Date(0) }, content, (error) =>
          error ? reject(error) : next(),
        );
      });
      stream.on("error", reject);
    });
    reader.on("finish", () => resolve());
    reader.on("error", reject);
  });
  input.on("error", (error) => reader.destroy(error));
  input.pipe(reader);
  await read;
  writer.finalize();
  await written;
  return { tar: Buffer.concat(chunks), files, bytes, dropped };
}
