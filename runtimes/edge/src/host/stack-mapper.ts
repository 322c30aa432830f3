import { SourceMapConsumer } from "source-map-js";

/**
 * Maps the frames of an edge function's stack traces (positions in the esbuild bundle, renamed
 * identifiers) back to the user's files through the bundle's source map: `at handler
 * (kumo:fn/shop.js:412:11)` becomes `at handler (src/lib.ts:7:11)`. The map is parsed on the first
 * error only: most versions never throw.
 */
export class StackMapper {
  readonly #sourceMap: string;
  readonly #file: string;
  /** Columns the isolate's module wrapper adds in front of the bundle's first line. */
  readonly #firstLineShift: number;
  #consumer: SourceMapConsumer | null | undefined;

  constructor(sourceMap: string, file: string, firstLineShift: number) {
    this.#sourceMap = sourceMap;
    this.#file = file;
    this.#firstLineShift = firstLineShift;
  }

  /** The text with every `<file>:line:column` of the bundle replaced by the original place. */
  map(text: string): string {
    if (!text.includes(this.#file)) return text;
    const consumer = this.#load();
    if (!consumer) return text;
    const escaped = this.#file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const place = new RegExp(`${escaped}:(\\d+):(\\d+)`, "g");
    return text.replace(place, (whole, l: string, c: string) => {
      const line = Number(l);
      const column = Number(c) - 1 - (line === 1 ? this.#firstLineShift : 0);
      const found = consumer.originalPositionFor({ line, column: Math.max(0, column) });
      if (!found.source || found.line == null) return whole;
      return `${found.source}:${found.line}:${(found.column ?? 0) + 1}`;
    });
  }

  #load(): SourceMapConsumer | null {
    if (this.#consumer !== undefined) return this.#consumer;
    try {
      this.#consumer = new SourceMapConsumer(JSON.parse(this.#sourceMap));
    } catch {
      this.#consumer = null;
    }
    return this.#consumer;
  }
}
