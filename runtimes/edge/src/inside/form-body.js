// request.formData()/response.formData(): multipart/form-data and application/x-www-form-urlencoded
// bodies into a FormData (formdata-polyfill). No maintained multipart parser runs without Node
// streams (busboy and @fastify/busboy need them), and the body is already in memory here, so the
// parser below works on the whole body: split at the boundary, read each part's headers.
import { loadFile, loadFormData } from "./web-modules.js";

/** Bytes as a string of code units 0–255, so indexOf works on the raw body. */
function latin1(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  }
  return out;
}

function parameter(header, name) {
  const match = new RegExp(`;\\s*${name}\\*?=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i").exec(header);
  if (!match) return null;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2];
}

/** Percent-encoded quotes and newlines (how browsers and formdata-polyfill escape names) back to text. */
const unescapeName = (text) => text.replace(/%22/g, '"').replace(/%0D/gi, "\r").replace(/%0A/gi, "\n");

function parseMultipart(bytes, contentType) {
  const boundary = parameter(contentType, "boundary");
  if (!boundary) throw new TypeError("multipart/form-data body without a boundary parameter");
  const { FormData } = loadFormData();
  const { File } = loadFile();
  const form = new FormData();
  const text = latin1(bytes);
  const delimiter = `--${boundary}`;
  let at = text.indexOf(delimiter);
  if (at < 0) throw new TypeError("Could not parse content as FormData: boundary not found");
  const decoder = new TextDecoder();
  for (;;) {
    at += delimiter.length;
    if (text.startsWith("--", at)) return form;
    if (!text.startsWith("\r\n", at))
      throw new TypeError("Could not parse content as FormData: malformed boundary line");
    const headersEnd = text.indexOf("\r\n\r\n", at + 2);
    if (headersEnd < 0) throw new TypeError("Could not parse content as FormData: part without headers end");
    const next = text.indexOf(`\r\n${delimiter}`, headersEnd + 4);
    if (next < 0) throw new TypeError("Could not parse content as FormData: missing closing boundary");
    const headers = decoder.decode(bytes.subarray(at + 2, headersEnd)).split("\r\n");
    const disposition = headers.find((line) => /^content-disposition:/i.test(line));
    const name = disposition && parameter(disposition, "name");
    if (name == null) throw new TypeError("Could not parse content as FormData: part without a name");
    const filename = parameter(disposition, "filename");
    const content = bytes.subarray(headersEnd + 4, next);
    if (filename === null) {
      form.append(unescapeName(name), decoder.decode(content));
    } else {
      const typeLine = headers.find((line) => /^content-type:/i.test(line));
      const type = typeLine ? typeLine.slice(typeLine.indexOf(":") + 1).trim() : "application/octet-stream";
      form.append(unescapeName(name), new File([content.slice()], unescapeName(filename), { type }));
    }
    at = next + 2;
  }
}

function parseUrlencoded(bytes) {
  const { FormData } = loadFormData();
  const form = new FormData();
  for (const [name, value] of new URLSearchParams(new TextDecoder().decode(bytes))) form.append(name, value);
  return form;
}

/** The FormData a body of this content type holds; TypeError when it holds none. */
export function parseFormBody(bytes, contentType) {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (type === "multipart/form-data") return parseMultipart(bytes, contentType);
  if (type === "application/x-www-form-urlencoded") return parseUrlencoded(bytes);
  throw new TypeError(
    `Could not parse content as FormData: content-type is "${contentType ?? ""}", expected multipart/form-data or application/x-www-form-urlencoded`,
  );
}
