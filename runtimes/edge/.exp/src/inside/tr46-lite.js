// A small stand-in for tr46 (UTS #46 IDNA) used by whatwg-url. The full mapping table is ~240 KB
// and costs ~5 ms to evaluate in every new isolate; ASCII hosts (nearly all traffic) only need
// lower-casing, and non-ASCII labels get NFC + lower-case + punycode, which covers common IDNs.
import punycode from "punycode/punycode.js";

const SEPARATORS = /[.\u3002\uff0e\uff61]/;
const NON_ASCII = /[^ -~\t\n\r]/; // anything outside printable ASCII

export function toASCII(domain) {
  let ascii = true;
  for (let i = 0; i < domain.length; i++) {
    if (domain.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return domain.toLowerCase();
  try {
    return domain
      .normalize("NFC")
      .toLowerCase()
      .split(SEPARATORS)
      .map((label) => (NON_ASCII.test(label) ? `xn--${punycode.encode(label)}` : label))
      .join(".");
  } catch {
    return null;
  }
}

export function toUnicode(domain) {
  return { domain, error: false };
}
