// atob/btoa per the HTML spec (forgiving-base64), small enough to keep by hand.
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

/** The platform's DOMException (installed by the bootstrap before any tenant code runs). */
function invalidCharacter(name) {
  const DOMExceptionClass = /** @type {any} */ (globalThis).DOMException;
  return new DOMExceptionClass(
    `The string to be ${name} contains invalid characters.`,
    "InvalidCharacterError",
  );
}

export function btoa(input) {
  const data = String(input);
  let out = "";
  for (let i = 0; i < data.length; i += 3) {
    const a = data.charCodeAt(i);
    const b = data.charCodeAt(i + 1);
    const c = data.charCodeAt(i + 2);
    if (a > 255 || b > 255 || c > 255) throw invalidCharacter("encoded");
    const n = (a << 16) | ((b || 0) << 8) | (c || 0);
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
    out += Number.isNaN(b) ? "=" : ALPHABET[(n >> 6) & 63];
    out += Number.isNaN(c) ? "=" : ALPHABET[n & 63];
  }
  return out;
}

export function atob(input) {
  let data = String(input).replace(/[\t\n\f\r ]/g, "");
  if (data.length % 4 === 0) data = data.replace(/==?$/, "");
  if (data.length % 4 === 1 || /[^+/0-9A-Za-z]/.test(data)) throw invalidCharacter("decoded");
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < data.length; i++) {
    buffer = (buffer << 6) | LOOKUP[data.charCodeAt(i)];
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((buffer >> bits) & 0xff);
    }
  }
  return out;
}

export function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
