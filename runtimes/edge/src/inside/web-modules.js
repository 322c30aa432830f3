// The heavier parts of the web platform, each evaluated on first use: esbuild wraps an ES module
// that is require()d in a lazy initializer, so an isolate that never touches streams, Blob or
// URLPattern never runs their code (spare isolates and cold starts stay as cheap as before).
// Vetted implementations throughout; see runtimes/edge/README.md "Polyfills chosen".
let streams = null;
let blob = null;
let file = null;
let formData = null;
let urlPattern = null;
let encoding = null;

/** ReadableStream, WritableStream, TransformStream and friends (web-streams-polyfill, ponyfill build). */
export const loadStreams = () => (streams ??= require("web-streams-polyfill"));
/**
 * Blob.prototype.bytes() (File API, 2024): fetch-blob 4 predates it. File extends the same Blob,
 * so whichever of the two loads first adds it.
 */
function withBytes(module) {
  // Blob is undefined when asked for while fetch-blob itself evaluates.
  const proto = loadBlobModule().Blob?.prototype;
  if (proto && !("bytes" in proto)) {
    Object.defineProperty(proto, "bytes", {
      async value() {
        return new Uint8Array(await this.arrayBuffer());
      },
      writable: true,
      configurable: true,
    });
  }
  return module;
}
const loadBlobModule = () => (blob ??= require("fetch-blob"));

/** Blob (fetch-blob; its Node-only stream prelude is removed when bundled, see runtime-assets.ts). */
export const loadBlob = () => withBytes(loadBlobModule());
export const loadFile = () => (file ??= withBytes(require("fetch-blob/file.js")));
/** FormData and its multipart serializer (formdata-polyfill). */
export const loadFormData = () => (formData ??= require("formdata-polyfill/esm.min.js"));
export const loadUrlPattern = () => (urlPattern ??= require("urlpattern-polyfill/urlpattern"));
/**
 * TextDecoder with every WHATWG label but the legacy multi-byte ones, `fatal`, BOM handling and
 * streaming, plus TextEncoderStream/TextDecoderStream (@exodus/bytes, already whatwg-url's dependency).
 */
export const loadEncoding = () => (encoding ??= require("@exodus/bytes/encoding-lite.js"));
