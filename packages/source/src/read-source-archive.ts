import { Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import { invalid, tooLarge } from "@kumo/core";
import { extract } from "tar-stream";

export interface SourceLimits {
  /** Total uncompressed bytes of all files. */
  maxBytes: number;
  maxFiles: number;
  maxFileBytes: number;
  /**
   * Bytes of the tar stream itself (after gunzip): the files plus headers, padding and end blocks.
   * Inflating stops here, so a small gzip that expands to gigabytes costs milliseconds, not seconds.
   * Defaults to `maxBytes` plus 4 KiB of tar framing per allowed file.
   */
  maxArchiveBytes?: number;
}

export const DEFAULT_SOURCE_LIMITS: SourceLimits = {
  maxBytes: 50 * 1024 * 1024,
  maxFiles: 5000,
  maxFileBytes: 20 * 1024 * 1024,
};

/** A function's source as path -> bytes, paths normalized ("src/a.ts", never "../" or absolute). */
export type SourceFiles = Map<string, Uint8Array>;

/**
 * Reads a tar or tar.gz upload into memory, refusing anything that could escape the source tree:
 * absolute paths, "..", symlinks or hardlinks, devices and fifos, and archives over the limits.
 * Every refusal is FN_006 (or FN_010 for size) naming the offending entry. Tar parsing reads the
 * inflated stream as it is produced and stops it at `maxArchiveBytes`: the per-entry checks alone
 * never fire on a gzip of zero blocks, which tar skips, so it would otherwise be inflated in full.
 */
export async function readSourceArchive(
  archive: Uint8Array,
  limits: SourceLimits = DEFAULT_SOURCE_LIMITS,
): Promise<SourceFiles> {
  const gzipped = archive.length >= 2 && archive[0] === 0x1f && archive[1] === 0x8b;
  const files: SourceFiles = new Map();
  let total = 0;
  const tar = extract();
  const done = new Promise<void>((resolve, reject) => {
    tar.on("entry", (header, stream, next) => {
      const fail = (error: Error) => {
        // Destroying the extractor destroys this entry with the same error; it is reported once, below.
        stream.on("error", () => {});
        stream.resume();
        tar.destroy(error);
      };
      const type: string = header.type ?? "file";
      if (type === "directory" || type === "pax-header" || type === "pax-global-header") {
        stream.on("end", next);
        stream.resume();
        return;
      }
      let path: string;
      try {
        path = normalizeSourcePath(header.name);
      } catch (error) {
        fail(error as Error);
        return;
      }
      if (type !== "file" && type !== "contiguous-file") {
        fail(
          invalid(
            `archive entry "${header.name}" is a ${type}; only regular files and directories are allowed`,
            { entry: header.name, type },
          ),
        );
        return;
      }
      if (files.size + 1 > limits.maxFiles) {
        fail(tooLarge(`archive holds more than ${limits.maxFiles} files`, { entry: header.name }));
        return;
      }
      const size = header.size ?? 0;
      if (size > limits.maxFileBytes || total + size > limits.maxBytes) {
        fail(
          tooLarge(
            `archive entry "${header.name}" makes the source larger than allowed (${limits.maxFileBytes} bytes per file, ${limits.maxBytes} in all)`,
            { entry: header.name },
          ),
        );
        return;
      }
      total += size;
      const chunks: Buffer[] = [];
      stream.on("data", (chunk) => chunks.push(chunk as Buffer));
      stream.on("end", () => {
        files.set(path, Buffer.concat(chunks));
        next();
      });
    });
    tar.on("finish", resolve);
    tar.on("error", reject);
  });
  const archiveLimit = archiveLimitOf(limits);
  let inflated = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      inflated += chunk.length;
      if (inflated <= archiveLimit) return callback(null, chunk);
      callback(
        tooLarge(
          `the archive unpacks to more than ${archiveLimit} bytes; a function's source may hold at most ${limits.maxBytes} bytes in all`,
          { limitBytes: limits.maxBytes, archiveLimitBytes: archiveLimit, inflatedBytes: inflated },
        ),
      );
    },
  });
  counted.on("error", (error) => tar.destroy(error));
  counted.pipe(tar);
  const gunzip = gzipped ? createGunzip({ chunkSize: 64 * 1024 }) : undefined;
  if (gunzip) {
    gunzip.on("error", () => tar.destroy(invalid("the upload is not a valid gzip stream")));
    gunzip.pipe(counted);
    // zlib inflates only as fast as `counted` reads, so once the pipe stops, inflating stops.
    gunzip.end(archive);
  } else {
    counted.end(archive);
  }
  try {
    await done;
  } catch (error) {
    if (
      error instanceof Error &&
      "code" in error &&
      typeof error.code === "string" &&
      error.code.startsWith("FN_")
    )
      throw error;
    throw invalid(`the upload is not a readable tar archive: ${(error as Error).message}`);
  } finally {
    gunzip?.destroy();
    counted.destroy();
  }
  if (files.size === 0) throw invalid("the archive holds no files");
  return files;
}

function archiveLimitOf(limits: SourceLimits): number {
  return limits.maxArchiveBytes ?? limits.maxBytes + (limits.maxFiles + 1) * 4096;
}

/** Normalizes a relative path inside the source tree or throws FN_006 naming it. */
export function normalizeSourcePath(name: string): string {
  const raw = name.replace(/\\/g, "/");
  const parts: string[] = [];
  for (const part of raw.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") throw invalid(`path "${name}" leaves the source tree ("..")`, { entry: name });
    parts.push(part);
  }
  if (raw.startsWith("/") || /^[A-Za-z]:/.test(raw)) {
    throw invalid(`path "${name}" is absolute; paths must be relative to the function's root`, {
      entry: name,
    });
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (parts.length === 0 || parts.some((p) => /[\u0000-\u001f]/.test(p))) {
    throw invalid(`path "${name}" is empty or holds control characters`, { entry: name });
  }
  return parts.join("/");
}
