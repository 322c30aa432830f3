// The web platform globals beyond fetch, crypto and URL. All but the tiny ones are lazy globals:
// their implementation is evaluated when tenant code first names them (web-modules.js).

import { standardTextEncoder } from "./text-encoder.js";
import {
  loadBlob,
  loadEncoding,
  loadFile,
  loadFormData,
  loadStreams,
  loadUrlPattern,
} from "./web-modules.js";

const STREAM_GLOBALS = [
  "ReadableStream",
  "ReadableStreamDefaultReader",
  "ReadableStreamBYOBReader",
  "ReadableStreamBYOBRequest",
  "ReadableByteStreamController",
  "ReadableStreamDefaultController",
  "WritableStream",
  "WritableStreamDefaultWriter",
  "WritableStreamDefaultController",
  "TransformStream",
  "TransformStreamDefaultController",
  "ByteLengthQueuingStrategy",
  "CountQueuingStrategy",
];

/**
 * A loader whose globals read as absent while its module evaluates: a library that probes for a
 * native version of what it provides (event-target-shim looks for an Event to inherit from) must
 * not get its own half-made class back through another lazy global of the same module.
 */
function guarded(load) {
  let busy = false;
  return () => {
    if (busy) return {};
    busy = true;
    try {
      return load();
    } finally {
      busy = false;
    }
  };
}

let abortModule = null;
let compressionModule = null;
/** AbortController/AbortSignal, and the Event/EventTarget of event-target-shim they build on. */
const loadAbort = guarded(() => (abortModule ??= require("./abort.js")));
const loadCompression = () => (compressionModule ??= require("./compression.js"));

export function defineWebPlatform(defineGlobal, defineLazyGlobal) {
  for (const name of STREAM_GLOBALS) defineLazyGlobal(name, () => loadStreams()[name]);
  defineLazyGlobal("Blob", () => loadBlob().Blob);
  defineLazyGlobal("File", () => loadFile().File);
  defineLazyGlobal("FormData", () => loadFormData().FormData);
  defineLazyGlobal("Event", () => loadAbort().Event);
  defineLazyGlobal("CustomEvent", () => loadAbort().CustomEvent);
  defineLazyGlobal("EventTarget", () => loadAbort().EventTarget);
  defineLazyGlobal("AbortController", () => loadAbort().AbortController);
  defineLazyGlobal("AbortSignal", () => loadAbort().AbortSignal);
  defineLazyGlobal("URLPattern", () => loadUrlPattern().URLPattern);
  defineLazyGlobal("CompressionStream", () => loadCompression().CompressionStream);
  defineLazyGlobal("DecompressionStream", () => loadCompression().DecompressionStream);
  // fast-text-encoding (installed first, cheap) stays the TextEncoder's UTF-8 encoder, made standard
  // (USVString input, encodeInto) by text-encoder.js; its TextDecoder knows only UTF-8 and refuses
  // `fatal`, so the full decoder replaces it on first use.
  defineGlobal("TextEncoder", standardTextEncoder(/** @type {any} */ (globalThis).TextEncoder));
  defineLazyGlobal("TextDecoder", () => loadEncoding().TextDecoder);
  defineLazyGlobal("TextEncoderStream", () => loadEncoding().TextEncoderStream);
  defineLazyGlobal("TextDecoderStream", () => loadEncoding().TextDecoderStream);

  // An isolate has no monotonic high-resolution clock of its own; Date.now() is what timers use too.
  const timeOrigin = Date.now();
  defineGlobal(
    "performance",
    Object.freeze({
      timeOrigin,
      now: () => Date.now() - timeOrigin,
      toJSON: () => ({ timeOrigin }),
    }),
  );
  defineGlobal(
    "navigator",
    Object.freeze({ userAgent: "Kumo/edge", hardwareConcurrency: 1, language: "en" }),
  );
}
