import type { Duplex } from "node:stream";

/**
 * Length-prefixed binary frames over a stream (the unix socketpair between the provider and an
 * isolate host). Each frame is `u32 length | u8 type | u32 id | payload`, where length counts
 * everything after itself. Replaces child_process IPC, whose per-message V8 serialization and one
 * write syscall per message were half of the gateway's busy time under load (bench/edge.bench.ts).
 *
 * Writes are coalesced: every frame produced in one event-loop turn goes out in a single write,
 * flushed from setImmediate, i.e. after the poll phase has handed over everything that arrived.
 */

const HEADER_BYTES = 9;
const MIN_BUFFER = 64 * 1024;

/** Builds frames into one buffer per event-loop turn. */
export class FrameWriter {
  readonly #stream: Duplex;
  #buf: Buffer = Buffer.allocUnsafe(MIN_BUFFER);
  #pos = 0;
  #frameStart = -1;
  #scheduled = false;

  constructor(stream: Duplex) {
    this.#stream = stream;
  }

  /** Starts a frame; fields follow with the u8/u16/u32/f64/str/bytes methods, then end(). */
  begin(type: number, id: number): this {
    // A frame left unfinished (its encoder threw) is dropped rather than corrupting the stream.
    if (this.#frameStart !== -1) this.#pos = this.#frameStart;
    this.#ensure(HEADER_BYTES);
    this.#frameStart = this.#pos;
    this.#buf.writeUInt8(type, this.#pos + 4);
    this.#buf.writeUInt32LE(id >>> 0, this.#pos + 5);
    this.#pos += HEADER_BYTES;
    return this;
  }

  u8(value: number): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = value;
    return this;
  }

  u16(value: number): this {
    this.#ensure(2);
    this.#pos = this.#buf.writeUInt16LE(value, this.#pos);
    return this;
  }

  u32(value: number): this {
    this.#ensure(4);
    this.#pos = this.#buf.writeUInt32LE(value >>> 0, this.#pos);
    return this;
  }

  f64(value: number): this {
    this.#ensure(8);
    this.#pos = this.#buf.writeDoubleLE(value, this.#pos);
    return this;
  }

  /** A UTF-8 string with a u32 byte-length prefix, encoded straight into the frame buffer. */
  str(value: string): this {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    this.#ensure(4 + value.length * 3);
    const written = this.#buf.write(value, this.#pos + 4, "utf8");
    this.#buf.writeUInt32LE(written, this.#pos);
    this.#pos += 4 + written;
    return this;
  }

  /** Raw bytes with a u32 length prefix; 0xffffffff stands for null. */
  bytes(value: Uint8Array | null): this {
    if (value === null) return this.u32(0xffffffff);
    this.#ensure(4 + value.byteLength);
    this.#pos = this.#buf.writeUInt32LE(value.byteLength, this.#pos);
    this.#buf.set(value, this.#pos);
    this.#pos += value.byteLength;
    return this;
  }

  /** Closes the frame and schedules the flush of this turn's frames. */
  end(): void {
    this.#buf.writeUInt32LE(this.#pos - this.#frameStart - 4, this.#frameStart);
    this.#frameStart = -1;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is buffered now (also called before the stream is ended). */
  flush(): void {
    this.#scheduled = false;
    if (this.#pos === 0 || this.#frameStart !== -1) return;
    const out = this.#buf.subarray(0, this.#pos);
    // The written buffer belongs to the stream until it is sent: start a fresh one.
    this.#buf = Buffer.allocUnsafe(MIN_BUFFER);
    this.#pos = 0;
    if (this.#stream.writable) this.#stream.write(out);
  }

  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + extra));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }
}

/** Sequential reads of the fields of one frame's payload. */
export class FrameFields {
  readonly #buf: Buffer;
  #pos: number;

  constructor(buf: Buffer, start: number) {
    this.#buf = buf;
    this.#pos = start;
  }

  u8(): number {
    return this.#buf[this.#pos++] ?? 0;
  }

  u16(): number {
    const value = this.#buf.readUInt16LE(this.#pos);
    this.#pos += 2;
    return value;
  }

  u32(): number {
    const value = this.#buf.readUInt32LE(this.#pos);
    this.#pos += 4;
    return value;
  }

  f64(): number {
    const value = this.#buf.readDoubleLE(this.#pos);
    this.#pos += 8;
    return value;
  }

  str(): string {
    const length = this.u32();
    const value = this.#buf.toString("utf8", this.#pos, this.#pos + length);
    this.#pos += length;
    return value;
  }

  /** A view into the received chunk (no copy); null for the null marker. */
  bytes(): Uint8Array | null {
    const length = this.u32();
    if (length === 0xffffffff) return null;
    const value = this.#buf.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return value;
  }
}

/** Splits the incoming byte stream into frames and hands each to `onFrame`. */
export function readFrames(
  stream: Duplex,
  onFrame: (type: number, id: number, fields: FrameFields) => void,
): void {
  // A partial frame waits as a list of chunks, joined once complete: a large body arriving in many
  // chunks is copied once, not once per chunk.
  let parts: Buffer[] = [];
  let partBytes = 0;
  let needed = 0;
  stream.on("data", (chunk: Buffer) => {
    let buf = chunk;
    if (parts.length > 0) {
      parts.push(chunk);
      partBytes += chunk.length;
      if (partBytes < needed) return;
      buf = Buffer.concat(parts, partBytes);
      parts = [];
      partBytes = 0;
    }
    let pos = 0;
    while (buf.length - pos >= 4) {
      const length = buf.readUInt32LE(pos);
      if (buf.length - pos - 4 < length) break;
      const type = buf[pos + 4] ?? 0;
      const id = buf.readUInt32LE(pos + 5);
      onFrame(type, id, new FrameFields(buf, pos + HEADER_BYTES));
      pos += 4 + length;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      parts.push(rest);
      partBytes = rest.length;
      needed = rest.length >= 4 ? 4 + rest.readUInt32LE(0) : 4;
    }
  });
}
