// Which handler shape a function module has, decided by one rule in every JS runtime (the edge isolate
// bootstrap and the node/bun/deno shim), so a module means the same thing wherever it runs. Shapes:
//
//   workers     export default { fetch(request, env, ctx) }                    (Cloudflare Workers, Hono)
//   deno-serve  Deno.serve(handler) / Deno.serve(options, handler) at top level (Deno Deploy, Supabase)
//   node-app    an exported Express/Koa/Fastify app or http.Server, or one that calls listen() while
//               the module loads                                               (containers only)
//   lambda      export "handler" (event, context)                              (AWS Lambda, Netlify v1)
//   node-http   export default / "handler" function (req, res)                 (containers only)
//   openfaas    export default (event, context) using context.status().succeed() (OpenFaaS node templates)
//   web         any other export default function: (request, context) -> Response (Netlify, Vercel edge)
//   knative     export "handle" (context, body)                                (Knative func)
//   step        export "step" (input, context) only                            (workflow steps)
//
// The rule reads parameter names, so it is about the source as written: a default function whose
// parameters are (req, res[, next]) is Node's, (event, context) is OpenFaaS's, anything else is a
// web handler. `handlerShape` in kumo.json overrides the guess.

/** Every shape name, as kumo.json's `handlerShape` accepts them. */
export const HANDLER_SHAPES = /** @type {const} */ ([
  "workers",
  "deno-serve",
  "node-app",
  "lambda",
  "node-http",
  "openfaas",
  "web",
  "knative",
  "step",
]);

/** Shapes that need Node's http module: containers only. */
export const NODE_ONLY_SHAPES = ["node-app", "node-http"];

/** How error messages name each shape. */
const SHAPE_TEXT = [
  ["workers", "export default { fetch } (Workers)"],
  ["deno-serve", "Deno.serve(handler) (Deno Deploy, Supabase)"],
  ["web", "export default (request, context) => Response (Netlify, Vercel edge)"],
  ["lambda", "export handler(event, context) (Lambda)"],
  ["node-http", "a (req, res) function (Node)"],
  ["node-app", "an exported Express/Koa/Fastify app or http.Server"],
  ["openfaas", "export default (event, context) answering context.succeed() (OpenFaaS)"],
  ["knative", "export handle(context, body) (Knative)"],
  ["step", "export step(input, context) (workflow step)"],
];

/**
 * The accepted shapes, as error messages list them.
 * @param {boolean} [withNode] false: without the shapes that need Node's http (edge isolates).
 */
export function acceptedShapes(withNode = true) {
  return SHAPE_TEXT.filter(([shape]) => withNode || !NODE_ONLY_SHAPES.includes(shape))
    .map(([, text]) => text)
    .join("; ");
}

const REQ = /^(req|request)$/i;
const RES = /^(res|response|reply)$/i;

/**
 * The names of a function's parameters as written (destructured and rest parameters give "").
 * @param {Function} fn
 * @returns {string[]}
 */
export function paramNames(fn) {
  let text;
  try {
    text = Function.prototype.toString.call(fn);
  } catch {
    return [];
  }
  text = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  let list;
  const arrow = /^\s*(?:async\s*)?([A-Za-z_$][\w$]*)\s*=>/.exec(text);
  if (arrow) list = arrow[1];
  else {
    const open = text.indexOf("(");
    if (open < 0) return [];
    let depth = 0;
    let end = open;
    for (; end < text.length; end++) {
      const c = text[end];
      if (c === "(" || c === "{" || c === "[") depth++;
      else if (c === ")" || c === "}" || c === "]") {
        depth--;
        if (depth === 0) break;
      }
    }
    list = text.slice(open + 1, end);
  }
  const names = [];
  let depth = 0;
  let current = "";
  for (const c of list) {
    if (c === "(" || c === "{" || c === "[") depth++;
    else if (c === ")" || c === "}" || c === "]") depth--;
    if (c === "," && depth === 0) {
      names.push(current);
      current = "";
    } else current += c;
  }
  if (current.trim() !== "") names.push(current);
  return names.map((part) => /^\s*([A-Za-z_$][\w$]*)\s*(?:=|$)/.exec(part)?.[1] ?? "");
}

/** Node's (req, res[, next]) by its first two parameter names. */
function isReqRes(fn) {
  const [a = "", b = ""] = paramNames(fn);
  return REQ.test(a) && RES.test(b);
}

/**
 * An Express/connect app (a function with handle/use/listen), a Koa app (callback()), a Fastify
 * instance (ready() and its server), or an http.Server (an emitter with listen).
 * @returns {"express" | "koa" | "fastify" | "server" | null}
 */
export function nodeAppKind(value) {
  if (!value || (typeof value !== "object" && typeof value !== "function")) return null;
  if (typeof value.fetch === "function") return null;
  if (typeof value === "function" && typeof value.handle === "function" && typeof value.use === "function")
    return "express";
  if (
    typeof value.callback === "function" &&
    typeof value.use === "function" &&
    typeof value.listen === "function"
  )
    return "koa";
  if (typeof value.ready === "function" && typeof value.server?.emit === "function") return "fastify";
  if (
    typeof value.listen === "function" &&
    typeof value.emit === "function" &&
    typeof value.listeners === "function"
  )
    return "server";
  return null;
}

/**
 * @typedef {object} DetectOptions
 * @property {string} [exportName] The export the handler spec names ("index.handler" -> "handler").
 * @property {Function} [served] The handler given to Deno.serve while the module loaded.
 * @property {unknown} [listened] A server that called listen() while the module loaded (node/bun).
 * @property {string} [declared] kumo.json's handlerShape.
 */

/**
 * @param {Record<string, any>} mod The module's exports.
 * @param {DetectOptions} [options]
 * @returns {{ shape: string, target: any } | null} null: no shape fits (shape: one of HANDLER_SHAPES).
 */
export function detectShape(mod, options = {}) {
  const { exportName, served, listened, declared } = options;
  if (declared) return declaredShape(mod, options);
  if (exportName && exportName !== "default") {
    const target = exportName === "step" ? stepOf(mod) : (mod[exportName] ?? mod.default?.[exportName]);
    if (exportName === "step") return target ? { shape: "step", target } : null;
    return classifyNamed(target, exportName);
  }
  const main = mod.default;
  if (typeof main?.fetch === "function") return { shape: "workers", target: main };
  if (exportName === "default") return classifyDefault(main);
  if (typeof served === "function") return { shape: "deno-serve", target: served };
  for (const candidate of [main, mod.app, mod.server]) {
    if (nodeAppKind(candidate)) return { shape: "node-app", target: candidate };
  }
  const handler = mod.handler ?? main?.handler;
  if (typeof handler === "function") return classifyNamed(handler, "handler");
  if (typeof main === "function") return classifyDefault(main);
  const handle = mod.handle ?? main?.handle;
  if (typeof handle === "function") return { shape: "knative", target: handle };
  if (nodeAppKind(listened)) return { shape: "node-app", target: listened };
  const step = stepOf(mod);
  return step ? { shape: "step", target: step } : null;
}

function stepOf(mod) {
  const step = mod.step ?? mod.default?.step;
  return typeof step === "function" ? step : undefined;
}

function classifyNamed(target, name) {
  if (typeof target?.fetch === "function") return { shape: "workers", target };
  if (nodeAppKind(target)) return { shape: "node-app", target };
  if (typeof target !== "function") return null;
  if (isReqRes(target)) return { shape: "node-http", target };
  return { shape: name === "handle" ? "knative" : "lambda", target };
}

function classifyDefault(main) {
  if (typeof main?.fetch === "function") return { shape: "workers", target: main };
  if (nodeAppKind(main)) return { shape: "node-app", target: main };
  if (typeof main !== "function") return null;
  if (isReqRes(main)) return { shape: "node-http", target: main };
  const [first = "", second = ""] = paramNames(main);
  if (/^event$/i.test(first) && /^(context|ctx)$/i.test(second)) return { shape: "openfaas", target: main };
  return { shape: "web", target: main };
}

/**
 * The shape kumo.json names, with its target found where that shape keeps it.
 * @param {Record<string, any>} mod
 * @param {DetectOptions} options
 */
function declaredShape(mod, { exportName, served, listened, declared }) {
  const main = mod.default;
  const named = exportName && exportName !== "default" ? (mod[exportName] ?? main?.[exportName]) : undefined;
  const fn = (...candidates) => candidates.find((c) => typeof c === "function");
  switch (declared) {
    case "workers":
      return typeof (named ?? main)?.fetch === "function"
        ? { shape: "workers", target: named ?? main }
        : null;
    case "deno-serve":
      return typeof served === "function" ? { shape: "deno-serve", target: served } : null;
    case "node-app": {
      const app = [named, main, mod.app, mod.server, listened].find((c) => nodeAppKind(c));
      return app ? { shape: "node-app", target: app } : null;
    }
    case "lambda":
    case "node-http": {
      const target = fn(named, mod.handler, main?.handler, main);
      return target ? { shape: declared, target } : null;
    }
    case "openfaas":
    case "web": {
      const target = fn(named, main, mod.handler, main?.handler);
      return target ? { shape: declared, target } : null;
    }
    case "knative": {
      const target = fn(named, mod.handle, main?.handle, main);
      return target ? { shape: "knative", target } : null;
    }
    case "step": {
      const target = fn(named, stepOf(mod));
      return target ? { shape: "step", target } : null;
    }
    default:
      throw new TypeError(`unknown handlerShape "${declared}": use one of ${HANDLER_SHAPES.join(", ")}`);
  }
}

/**
 * The error for a module no shape fits (or whose declared shape is not there).
 * @param {string} where The file or function, for the message.
 * @param {DetectOptions} [options]
 * @param {boolean} [withNode] Whether the runtime runs the Node shapes.
 */
export function noShapeError(where, options = {}, withNode = true) {
  const wanted = options.declared
    ? `handlerShape "${options.declared}" from kumo.json, but the module has no such handler`
    : options.exportName
      ? `export "${options.exportName}" is missing or not a handler`
      : "no handler shape found";
  /** @type {TypeError & { kumoCode?: string }} */
  const error = new TypeError(
    `${where} has no usable handler: ${wanted}. Kumo accepts: ${acceptedShapes(withNode)}${withNode ? '. Set "handlerShape" in kumo.json when the guess is wrong' : " (and, on the node, bun and deno runtimes, Node's (req, res) functions and apps)"}.`,
  );
  error.kumoCode = "FN_005";
  return error;
}
