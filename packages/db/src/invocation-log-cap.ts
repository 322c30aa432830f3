import type { StructuredLogLine } from "./log-line.ts";

/** The default per-invocation log cap (KUMO_LOG_CAP_BYTES). */
export const DEFAULT_LOG_CAP_BYTES = 256 * 1024;

/** Marks the line that stands for everything an invocation wrote past its cap. */
export const LOG_TRUNCATED_MARK = "log-truncated";

/** Cap state of an invocation that passed its cap. */
const CAPPED = -1;

/**
 * The per-invocation log cap: an invocation's lines are kept until their messages add up to
 * `maxBytes` (UTF-8); the line that crosses it is cut to fit and followed by one marker line (level
 * warn, `fields.kumo = "log-truncated"`), and later lines are dropped. A function printing in a loop
 * then costs the platform a bounded amount of storage, search index and live-tail traffic.
 *
 * Container logs arrive as a stream, so the count per invocation is kept between calls; counts of
 * invocations not heard from for `forgetAfterMs` are forgotten (two generations of maps, swapped),
 * which bounds memory without knowing when an invocation ends. Lines of no invocation (a
 * container's own start-up output) are not counted.
 */
export class InvocationLogCap {
  readonly #maxBytes: number;
  readonly #forgetAfterMs: number;
  #current = new Map<string, number>();
  #previous = new Map<string, number>();
  #rotatedAt: number;

  constructor(maxBytes: number, options: { forgetAfterMs?: number; now?: number } = {}) {
    this.#maxBytes = maxBytes;
    this.#forgetAfterMs = options.forgetAfterMs ?? 15 * 60_000;
    this.#rotatedAt = options.now ?? Date.now();
  }

  /** The line as kept: itself, cut to fit and the marker, or nothing (past the cap). */
  admit(invocationId: string | null, line: StructuredLogLine, now = Date.now()): StructuredLogLine[] {
    if (invocationId === null) return [line];
    if (now - this.#rotatedAt >= this.#forgetAfterMs) {
      this.#previous = this.#current;
      this.#current = new Map();
      this.#rotatedAt = now;
    }
    const used = this.#current.get(invocationId) ?? this.#previous.get(invocationId) ?? 0;
    if (used === CAPPED) {
      this.#current.set(invocationId, CAPPED);
      return [];
    }
    const bytes = Buffer.byteLength(line.message);
    if (used + bytes <= this.#maxBytes) {
      this.#current.set(invocationId, used + bytes);
      return [line];
    }
    this.#current.set(invocationId, CAPPED);
    const kept: StructuredLogLine[] = [];
    const left = this.#maxBytes - used;
    if (left > 0) kept.push({ level: line.level, message: cutUtf8(line.message, left), fields: null });
    kept.push(truncationMarker(this.#maxBytes));
    return kept;
  }
}

/** An invocation's lines (returned all at once, as edge isolates do) within the cap. */
export function capInvocationLines(
  invocationId: string,
  lines: readonly StructuredLogLine[],
  maxBytes: number,
): StructuredLogLine[] {
  const cap = new InvocationLogCap(maxBytes);
  return lines.flatMap((line) => cap.admit(invocationId, line));
}

export function truncationMarker(maxBytes: number): StructuredLogLine {
  return {
    level: "warn",
    message: `[kumo] this invocation's log output reached its cap of ${maxBytes} bytes; later lines were dropped`,
    fields: { kumo: LOG_TRUNCATED_MARK, capBytes: maxBytes },
  };
}

/** The longest prefix of `text` that fits in `bytes` UTF-8 bytes, never splitting a character. */
function cutUtf8(text: string, bytes: number): string {
  const cut = Buffer.from(text, "utf8").subarray(0, bytes).toString("utf8");
  return cut.endsWith("\uFFFD") && !text.startsWith(cut) ? cut.replace(/\uFFFD+$/, "") : cut;
}
