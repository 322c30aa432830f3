// CompressionStream and DecompressionStream ("gzip", "deflate" = zlib, "deflate-raw") as
// TransformStreams over fflate's streaming codecs. Required lazily by the bootstrap.
import { Deflate, Gunzip, Gzip, Inflate, Unzlib, Zlib } from "fflate";

const COMPRESS = { gzip: Gzip, deflate: Zlib, "deflate-raw": Deflate };
const DECOMPRESS = { gzip: Gunzip, deflate: Unzlib, "deflate-raw": Inflate };

function chunkBytes(chunk) {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError("The chunk must be a BufferSource (ArrayBuffer or a view of one)");
}

/**
 * fflate does not check the trailers (gzip ISIZE, zlib Adler-32), so a truncated stream would end
 * quietly; the stream checks them itself, as the Compression Streams spec requires an error.
 */
function trailerCheck(format) {
  if (format === "deflate-raw") return null;
  let tail = new Uint8Array(0);
  let size = 0;
  let a = 1;
  let b = 0;
  return {
    input(bytes) {
      const joined = new Uint8Array(Math.min(8, tail.length + bytes.length));
      const all = tail.length + bytes.length;
      for (let i = 0; i < joined.length; i++) {
        const at = all - joined.length + i;
        joined[i] = at < tail.length ? tail[at] : bytes[at - tail.length];
      }
      tail = joined;
    },
    output(bytes) {
      size = (size + bytes.length) >>> 0;
      if (format === "deflate") {
        for (let i = 0; i < bytes.length; i++) {
          a = (a + bytes[i]) % 65521;
          b = (b + a) % 65521;
        }
      }
    },
    valid() {
      if (tail.length < 4) return false;
      const t = tail.slice(-4);
      if (format === "gzip") return (t[0] | (t[1] << 8) | (t[2] << 16) | (t[3] << 24)) >>> 0 === size;
      return ((t[0] << 24) | (t[1] << 16) | (t[2] << 8) | t[3]) >>> 0 === ((b << 16) | a) >>> 0;
    },
  };
}

function codecStream(codecs, format, kind) {
  const Codec = codecs[String(format)];
  if (!Codec) {
    throw new TypeError(`Unsupported ${kind} format "${format}": use "gzip", "deflate" or "deflate-raw"`);
  }
  const decompress = kind === "decompression";
  const trailer = decompress ? trailerCheck(String(format)) : null;
  let controller = null;
  let ended = false;
  const codec = new Codec((data, final) => {
    trailer?.output(data);
    if (data.length > 0) controller.enqueue(data);
    if (final) ended = true;
  });
  const push = (data, final) => {
    if (ended && decompress && data.length > 0) {
      throw new TypeError("Junk found after the end of the compressed data");
    }
    trailer?.input(data);
    try {
      codec.push(data, final);
    } catch (error) {
      throw new TypeError(`${kind} failed: ${error?.message ?? error}`);
    }
  };
  return new globalThis.TransformStream({
    start(c) {
      controller = c;
    },
    transform(chunk) {
      push(chunkBytes(chunk), false);
    },
    flush() {
      if (!ended) push(new Uint8Array(0), true);
      if (!ended || (trailer && !trailer.valid()))
        throw new TypeError("The compressed data was truncated or corrupt");
    },
  });
}

class CodecStream {
  #transform;

  constructor(transform) {
    this.#transform = transform;
  }

  get readable() {
    return this.#transform.readable;
  }

  get writable() {
    return this.#transform.writable;
  }
}

export class CompressionStream extends CodecStream {
  constructor(format) {
    super(codecStream(COMPRESS, format, "compression"));
  }
}

export class DecompressionStream extends CodecStream {
  constructor(format) {
    super(codecStream(DECOMPRESS, format, "decompression"));
  }
}
