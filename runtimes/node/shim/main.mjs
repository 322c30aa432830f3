// Kumo runtime shim for JavaScript/TypeScript (node, bun and deno run this same file).
// Serves the runtime protocol of DESIGN.md over HTTP/1.1 on a unix socket:
//   GET /healthz   200 once work can be accepted
//   POST /init     {codeDir, handler, env}: specializes a stem cell (409 once initialized)
//   ANY /invoke/…  one invocation
// A container with its code baked in sets KUMO_CODE_DIR and is initialized at start.
import { reportUsage } from "../../shared/invocation-usage.mjs";
import { invoke } from "./invoke.mjs";
import { loadHandler } from "./load-handler.mjs";
import { captureOutput, deno, emit, getEnv, invocationScope, isDeno, nodeRequire } from "./logs.mjs";

// On node and bun, builtins come through require, not `import ... from "node:http"`: an ESM import
// builds the module's whole namespace, which in Node 22+ evaluates node:http's lazy WebSocket getters
// and so loads undici (~20 ms of a ~50 ms start). require returns the module object and leaves them
// lazy. On Deno the shim serves with Deno.serve through a small (req, res) adapter and uses no Node
// builtin before listening (see deno.mjs).
const platform = isDeno ? deno.denoPlatform() : nodePlatform();

const socketPath = getEnv("KUMO_SOCKET") || "/run/kumo/rt.sock";
const runtime = globalThis.Deno ? "deno" : globalThis.Bun ? "bun" : "node";

/** @type {"stem-cell" | "initializing" | "ready" | "failed"} */
let state = "stem-cell";
let handler;
let initError;
/** While the shim warms itself up (warmUp): its own handler, and the header value marking its calls. */
let warmUp = { token: "", handler: undefined };
const WARM_UP_ROUNDS = 3;

captureOutput();

async function initialize(codeDir, spec, env) {
  state = "initializing";
  try {
    platform.setEnv({ ...env, KUMO_CODE_DIR: codeDir, KUMO_HANDLER: spec });
    handler = await loadHandler(codeDir, spec);
    state = "ready";
    initError = undefined;
    emit("info", `loaded ${handler.kind} handler "${spec}" from ${codeDir}`);
  } catch (err) {
    state = getEnv("KUMO_BAKED") === "1" ? "failed" : "stem-cell";
    initError = err;
    emit("error", `cannot load handler "${spec}" from ${codeDir}: ${errorText(err)}`);
    throw err;
  }
}

async function handleRequest(req, res) {
  try {
    const url = req.url ?? "/";
    if (url === "/invoke" || url.startsWith("/invoke/") || url.startsWith("/invoke?")) {
      await handleInvoke(req, url.slice("/invoke".length), await platform.readBody(req), res);
    } else if (url === "/healthz" && req.method === "GET") {
      const ok = state === "ready" || state === "stem-cell";
      sendJson(res, ok ? 200 : 503, { state, runtime, error: initError ? errorText(initError) : undefined });
    } else if (url === "/init" && req.method === "POST") {
      await handleInit(await platform.readBody(req), res);
    } else {
      sendJson(res, 404, { code: "FN_006", message: `unknown shim route ${req.method} ${url}` });
    }
  } catch (err) {
    emit("error", `shim error: ${errorText(err)}`);
    if (!res.headersSent) sendJson(res, 500, { code: "FN_008", message: errorText(err) });
    else res.destroy();
  }
}

async function handleInit(body, res) {
  if (state !== "stem-cell") {
    return sendJson(res, 409, { code: "FN_006", message: `already initialized (state ${state})` });
  }
  let params;
  try {
    params = JSON.parse(body.toString("utf8") || "{}");
  } catch {
    return sendJson(res, 400, { code: "FN_006", message: "init body must be JSON {codeDir, handler, env}" });
  }
  try {
    await initialize(
      params.codeDir || "/var/task",
      params.handler || getEnv("KUMO_HANDLER"),
      params.env ?? {},
    );
    sendJson(res, 200, { state, kind: handler.kind });
  } catch (err) {
    sendError(res, err?.kumoCode ?? "FN_008", err);
  }
}

async function handleInvoke(req, path, body, res) {
  const warming = warmUp.token !== "" && req.headers["kumo-warm-up"] === warmUp.token;
  if (state !== "ready" && !warming) {
    const message = initError ? `handler failed to load: ${errorText(initError)}` : "not initialized";
    return sendJson(res, 503, { code: "FN_008", message }, { "kumo-error": "FN_008" });
  }
  const invocationId = headerValue(req.headers["kumo-invocation-id"]) ?? "";
  const inv = {
    method: req.method ?? "GET",
    path: path.startsWith("/") ? path : `/${path}`,
    headers: req.headers,
    body,
    invocationId,
    deadline: Number(headerValue(req.headers["kumo-deadline-ms"])) || Date.now() + 300_000,
    eventType: headerValue(req.headers["kumo-event-type"]),
  };
  if (!isDeno) reportUsage(res);
  await invocationScope.run({ invocationId }, async () => {
    try {
      await invoke(warming ? warmUp.handler : handler, inv, res);
    } catch (err) {
      emit("error", `handler threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (res.headersSent) res.destroy();
      else sendError(res, "FN_004", err);
    }
  });
}

function sendError(res, code, err) {
  const message = err instanceof Error ? err.message : String(err);
  const stack = err instanceof Error ? err.stack : undefined;
  sendJson(res, 500, { code, message, stack }, { "kumo-error": code });
}

function sendJson(res, status, value, headers = {}) {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(text);
}

function headerValue(value) {
  return Array.isArray(value) ? value[0] : value;
}

function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}

const bakedDir = getEnv("KUMO_CODE_DIR");
if (bakedDir) {
  platform.setEnv({ KUMO_BAKED: "1" });
  await initialize(bakedDir, getEnv("KUMO_HANDLER") || "index", {}).catch(() => {});
}
platform.listen(socketPath, handleRequest, () => {
  // "shim ready" with its state and the "cannot load handler" line are read by the builder's
  // deploy-time load check (services/builder/src/load-check.ts): keep their wording.
  emit("info", "shim ready", { runtime, readyMs: Math.round(performance.now() * 10) / 10, state });
  if (runtime === "node") setImmediate(() => warmItself(socketPath).catch(() => {}));
});

/**
 * The first /init and the first invocation of a node process run code V8 has not compiled yet: the
 * handler loader, node's HTTP parser and response for a POST, the body read, the invocation scope,
 * Request/Response and web streams (undici, loaded on first use), the usage header. Compiling it
 * took a specialized stem cell's /init and first invocation 1-2 and ~3 ms more than the next ones.
 * So once the shim listens, while nobody waits for it, it loads a handler of its own (warm-up/)
 * through the loader and sends itself a few invocations of it through its own socket (pipelined in
 * one write), marked by a token only this process knows. That takes a few ms of an idle process.
 */
async function warmItself(path) {
  const handler = await loadHandler(new URL("./warm-up/", import.meta.url).pathname, "index");
  warmUp = { token: nodeRequire("node:crypto").randomBytes(16).toString("hex"), handler };
  const head = `POST /invoke/warm-up HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\nkumo-warm-up: ${warmUp.token}\r\ncontent-length: 1\r\n\r\nx`;
  const socket = nodeRequire("node:net").connect(path);
  try {
    await new Promise((resolve, reject) => {
      let answers = "";
      socket.on("data", (chunk) => {
        answers += chunk.toString("latin1");
        if (answers.split("\r\n\r\nwarm").length > WARM_UP_ROUNDS) resolve();
      });
      socket.once("error", reject).once("close", resolve);
      socket.write(head.repeat(WARM_UP_ROUNDS));
    });
  } finally {
    socket.destroy();
    warmUp = { token: "", handler: undefined };
  }
}

/** node and bun: node:http. */
function nodePlatform() {
  const { chmodSync, rmSync } = nodeRequire("node:fs");
  const { createServer } = nodeRequire("node:http");
  return {
    setEnv: (vars) => Object.assign(process.env, vars),
    async readBody(req) {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      return Buffer.concat(chunks);
    },
    listen(path, handle, onReady) {
      const server = createServer(handle);
      // Only the node's autoscaler connects, and keeps its connections for the container's life: a
      // stem cell's /init then goes over the connection its readiness check opened, not a new one.
      server.keepAliveTimeout = 0;
      const stop = () => {
        server.close();
        rmSync(path, { force: true });
        process.exit(0);
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
      rmSync(path, { force: true });
      server.listen(path, () => {
        // Any local user of the host may connect; the per-container socket directory is what guards it.
        chmodSync(path, 0o666);
        onReady();
      });
    },
  };
}
