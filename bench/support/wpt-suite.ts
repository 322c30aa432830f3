import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";

/**
 * One web-platform-tests `.any.js` file made into a worker: testharness.js, the file's
 * `// META: script=` dependencies and the file itself, run from a fetch handler that answers with
 * the subtest results as JSON. The same module runs in Kumo edge and in workerd, so whatever the
 * runner adds (a `location`, a local server for the data files a test fetches) it adds to both.
 */

/** Where the tests think they are served from; requests to this origin are answered locally. */
export const WPT_ORIGIN = "http://web-platform.test:8000";

/** Extensions of the data files a test may fetch (urltestdata.json, media/foo.vtt...). */
const DATA_FILE = /(["'`])([\w./-]+\.(?:json|txt|vtt|webm))\1/g;

export interface WptSuite {
  /** Path of the test file in the checkout, e.g. "url/url-constructor.any.js". */
  test: string;
  /** The META scripts it loads, as checkout paths. */
  scripts: string[];
  /** Data files served to its fetch() calls, as checkout paths. */
  dataFiles: string[];
  /** The worker module: `export default { fetch }`. */
  source: string;
}

export interface SubtestResult {
  name: string;
  status: "PASS" | "FAIL" | "TIMEOUT" | "NOTRUN" | "PRECONDITION_FAILED";
  message: string | null;
}

/** What the worker answers. */
export interface SuiteReport {
  results: SubtestResult[];
  harness: {
    status: "OK" | "ERROR" | "TIMEOUT" | "PRECONDITION_FAILED" | "INCOMPLETE";
    message: string | null;
  };
  /** An exception the test file threw while it was being evaluated. */
  error: string | null;
  /** Runner additions for globals the runtime lacks (self, location, GLOBAL). */
  shims: string[];
}

/** A META script path: absolute from the checkout's root, or relative to the test file. */
function resolveScript(test: string, script: string): string {
  return script.startsWith("/")
    ? posix.normalize(script.slice(1))
    : posix.normalize(posix.join(posix.dirname(test), script));
}

export function metaScripts(test: string, code: string): string[] {
  const scripts: string[] = [];
  for (const line of code.split("\n")) {
    const match = /^\/\/\s*META:\s*script=(\S+)/.exec(line);
    if (match?.[1]) scripts.push(resolveScript(test, match[1]));
  }
  return scripts;
}

/** Data files named by string literals in the test or its scripts that exist in the checkout. */
function dataFilesOf(wptDir: string, sources: { path: string; code: string }[]): string[] {
  const found = new Set<string>();
  const bases = sources.map((s) => posix.dirname(s.path));
  for (const { code } of sources) {
    for (const match of code.matchAll(DATA_FILE)) {
      const literal = match[2] ?? "";
      const candidates = literal.startsWith("/")
        ? [posix.normalize(literal.slice(1))]
        : bases.map((base) => posix.normalize(posix.join(base, literal)));
      for (const candidate of candidates) {
        if (!candidate.startsWith("..") && existsSync(join(wptDir, candidate))) found.add(candidate);
      }
    }
  }
  return [...found].sort();
}

/**
 * Names the suite declares before the WPT code. The suite runs in a strict function in both
 * runtimes (workerd takes modules), and Kumo's bundle is CommonJS: without these, a failure of the
 * runner would read as one of the API.
 * - Names a classic script creates by assigning to them at its top level (`x = [];`, sloppy mode):
 *   in strict code the assignment throws.
 * - `module`, `exports`, `define`: a UMD library (compression's pako) must see no module system
 *   and set its global, as in a worker's classic script, not the bundle's `module.exports`.
 */
export function preludeNames(sources: readonly string[]): string[] {
  const assigned = new Set<string>(["module", "exports", "define"]);
  const declared = new Set<string>();
  for (const code of sources) {
    for (const m of code.matchAll(/^([A-Za-z_$][\w$]*)\s*=(?![=>])/gm)) if (m[1]) assigned.add(m[1]);
    for (const m of code.matchAll(/\b(?:var|let|const|function|class)\s+([A-Za-z_$][\w$]*)/g)) {
      if (m[1]) declared.add(m[1]);
    }
  }
  return [...assigned].filter((name) => !declared.has(name)).sort();
}

export async function buildWptSuite(wptDir: string, test: string, budgetMs: number): Promise<WptSuite> {
  const harness = await readFile(join(wptDir, "resources/testharness.js"), "utf8");
  const code = await readFile(join(wptDir, test), "utf8");
  const scripts = metaScripts(test, code);
  const scriptSources = await Promise.all(
    scripts.map(async (path) => ({ path, code: await readFile(join(wptDir, path), "utf8") })),
  );
  const dataFiles = dataFilesOf(wptDir, [...scriptSources, { path: test, code }]);
  const files: Record<string, string> = {};
  for (const path of dataFiles) files[`/${path}`] = (await readFile(join(wptDir, path))).toString("base64");
  const sources = [...scriptSources, { path: test, code }];
  const implicit = preludeNames(sources.map((s) => s.code));
  const body = `${implicit.length > 0 ? `var ${implicit.join(", ")};\n` : ""}${sources
    .map((s) => `// ---- ${s.path}\n${s.code}\n`)
    .join("\n")}`;
  const source = `const __WPT = ${JSON.stringify({ url: `${WPT_ORIGIN}/${test}`, budgetMs, files })};

function __wptHarness() {
"use strict";
${harness}
}

function __wptTest() {
"use strict";
${body}
}

${RUNNER}`;
  return { test, scripts, dataFiles, source };
}

/**
 * The fetch handler around the suite. testharness.js picks its environment from the global's
 * class (a ServiceWorkerGlobalScope makes it wait for a client that never comes): those names are
 * hidden while it loads, so it runs as in a JS shell in both runtimes, with `done()` called after
 * the file as the worker wrapper of wptserve does.
 */
const RUNNER = `
const __STATUS = ["PASS", "FAIL", "TIMEOUT", "NOTRUN", "PRECONDITION_FAILED"];
const __HARNESS = ["OK", "ERROR", "TIMEOUT", "PRECONDITION_FAILED"];
const __ENV_NAMES = ["document", "DedicatedWorkerGlobalScope", "SharedWorkerGlobalScope", "ServiceWorkerGlobalScope", "WorkerGlobalScope"];

function __bytes(base64) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const clean = base64.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0, value = 0, at = 0;
  for (const ch of clean) {
    value = (value << 6) | alphabet.indexOf(ch);
    bits += 6;
    if (bits >= 8) { bits -= 8; out[at++] = (value >> bits) & 0xff; }
  }
  return out;
}

function __define(name, value) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
}

function __installRunnerGlobals(shims) {
  if (typeof self === "undefined") { __define("self", globalThis); shims.push("self"); }
  if (typeof location === "undefined") { __define("location", new URL(__WPT.url)); shims.push("location"); }
  __define("GLOBAL", { isWindow: () => false, isWorker: () => true, isShadowRealm: () => false });
  const realFetch = globalThis.fetch;
  // The tests' data files come from the checkout; nothing leaves the machine.
  __define("fetch", (input, init) => {
    let url;
    try {
      url = new URL(typeof input === "string" || input instanceof URL ? String(input) : input.url, __WPT.url);
    } catch (error) {
      return Promise.reject(error);
    }
    if (url.protocol === "data:" || url.protocol === "blob:") return realFetch(input, init);
    if (url.origin !== new URL(__WPT.url).origin) return Promise.reject(new TypeError("wpt runner: no network"));
    const file = __WPT.files[url.pathname];
    if (file === undefined) return Promise.resolve(new Response("not in the checkout", { status: 404 }));
    const type = url.pathname.endsWith(".json") ? "application/json" : "application/octet-stream";
    return Promise.resolve(new Response(__bytes(file), { headers: { "content-type": type } }));
  });
}

async function __wptRun() {
  const report = { results: [], harness: { status: "INCOMPLETE", message: null }, error: null, shims: [] };
  __installRunnerGlobals(report.shims);
  const hidden = [];
  for (const name of __ENV_NAMES) {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
    if (descriptor && descriptor.configurable) { hidden.push([name, descriptor]); delete globalThis[name]; }
  }
  try {
    __wptHarness();
  } finally {
    for (const [name, descriptor] of hidden) Object.defineProperty(globalThis, name, descriptor);
  }
  const seen = [];
  add_result_callback((t) => seen.push(t));
  const completed = new Promise((resolve) => add_completion_callback((tests, status) => resolve({ tests, status })));
  setup({ explicit_done: true, explicit_timeout: true });
  try {
    __wptTest();
  } catch (error) {
    report.error = String((error && error.stack) || error);
  }
  done();
  const sleep = (ms) => new Promise((resolve) => setTimeout(() => resolve(null), ms));
  let outcome = await Promise.race([completed, sleep(__WPT.budgetMs)]);
  if (!outcome) {
    timeout();
    outcome = await Promise.race([completed, sleep(1000)]);
  }
  const tests = outcome ? outcome.tests : seen;
  report.results = tests.map((t) => ({ name: String(t.name), status: __STATUS[t.status] || "FAIL", message: t.message == null ? null : String(t.message) }));
  if (outcome) report.harness = { status: __HARNESS[outcome.status.status] || "ERROR", message: outcome.status.message == null ? null : String(outcome.status.message) };
  return report;
}

export default {
  async fetch(request) {
    if (new URL(request.url).pathname === "/__ready") return new Response("ready");
    const report = await __wptRun();
    return new Response(JSON.stringify(report), { headers: { "content-type": "application/json" } });
  },
};
`;
