// TextEncoder per the Encoding standard over fast-text-encoding's (installed first: eager and
// cheap, no UTF-8 tables to load): its input is a USVString (a lone surrogate becomes U+FFFD, not
// dropped or encoded as CESU-8), it defaults to "", and it has encodeInto().

/** A surrogate without its other half (String.prototype.toWellFormed is ES2024). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const wellFormed = (input) => String(input).replace(LONE_SURROGATE, "\uFFFD");

/** UTF-8 bytes of one code point. */
const utf8Length = (cp) => (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);

/** @param {{ new (): { encode(input: string): Uint8Array } }} Base the UTF-8 encoder to build on */
export function standardTextEncoder(Base) {
  const base = new Base();
  return class TextEncoder {
    get encoding() {
      return "utf-8";
    }

    encode(input = "") {
      return base.encode(wellFormed(input));
    }

    encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) {
        throw new TypeError("TextEncoder.encodeInto: destination must be a Uint8Array");
      }
      // Same length as the source: `read` counts its UTF-16 code units.
      const text = wellFormed(source);
      let read = 0;
      let written = 0;
      for (const ch of text) {
        const cp = /** @type {number} */ (ch.codePointAt(0));
        const size = utf8Length(cp);
        if (written + size > destination.length) break;
        if (size === 1) destination[written] = cp;
        else {
          const lead = size === 2 ? 0xc0 : size === 3 ? 0xe0 : 0xf0;
          destination[written] = lead | (cp >> (6 * (size - 1)));
          for (let i = 1; i < size; i++)
            destination[written + i] = 0x80 | ((cp >> (6 * (size - 1 - i))) & 0x3f);
        }
        written += size;
        read += ch.length;
      }
      return { read, written };
    }

    get [Symbol.toStringTag]() {
      return "TextEncoder";
    }
  };
}
