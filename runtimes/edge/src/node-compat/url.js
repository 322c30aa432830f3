// node:url for edge functions built with "compatibility": ["nodejs"]: the legacy parse/format/resolve
// of the url package, and the WHATWG URL of the isolate with Node's file URL helpers.
import legacy from "url/";

export const { parse, format, resolve, resolveObject, Url } = legacy;
export const URL = globalThis.URL;
export const URLSearchParams = globalThis.URLSearchParams;

export function fileURLToPath(input) {
  const url = typeof input === "string" ? new URL(input) : input;
  if (url.protocol !== "file:") throw new TypeError("The URL must be of scheme file");
  if (url.hostname !== "") throw new TypeError('File URL host must be "localhost" or empty on linux');
  const path = url.pathname;
  if (/%2f/i.test(path)) throw new TypeError("File URL path must not include encoded / characters");
  return decodeURIComponent(path);
}

export function pathToFileURL(path) {
  const url = new URL("file://");
  url.pathname = String(path).startsWith("/") ? String(path) : `/${path}`;
  return url;
}

export const domainToASCII = (domain) => {
  try {
    return new URL(`http://${domain}`).hostname;
  } catch {
    return "";
  }
};

export default {
  parse,
  format,
  resolve,
  resolveObject,
  Url,
  URL,
  URLSearchParams,
  fileURLToPath,
  pathToFileURL,
  domainToASCII,
};
