import { createHash } from "node:crypto";
import type { SourceFiles } from "@kumo/source";

/**
 * Bundles of draft source by tenant and content, least recently used dropped first: a designer
 * pressing "Test" again with another input, or a script run by hand many times, skips esbuild (about
 * 4 ms of a draft's ~13 ms here). Keyed by tenant too, so one tenant cannot learn from timing that
 * another bundled the same code. Bounded by entries and by bytes.
 */
export class BundleCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #entries = new Map<string, string>();
  #bytes = 0;

  constructor(options: { maxEntries: number; maxBytes: number }) {
    this.#maxEntries = options.maxEntries;
    this.#maxBytes = options.maxBytes;
  }

  /** The cache key of a tenant's source with its entry file. */
  static key(tenantId: string, entry: string | undefined, files: SourceFiles): string {
    const hash = createHash("sha256")
      .update(tenantId)
      .update("\0")
      .update(entry ?? "")
      .update("\0");
    for (const path of [...files.keys()].sort()) {
      const content = files.get(path) ?? new Uint8Array(0);
      hash.update(path).update("\0").update(String(content.byteLength)).update("\0").update(content);
    }
    return hash.digest("hex");
  }

  get(key: string): string | undefined {
    const code = this.#entries.get(key);
    if (code === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, code);
    return code;
  }

  set(key: string, code: string): void {
    if (code.length > this.#maxBytes) return;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#bytes -= old.length;
      this.#entries.delete(key);
    }
    this.#entries.set(key, code);
    this.#bytes += code.length;
    for (const [oldest, value] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= value.length;
    }
  }
}
