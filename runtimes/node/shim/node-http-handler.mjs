// Node (req, res) handlers and exported Express/Koa/Fastify apps or http.Servers run against a real
// http.IncomingMessage/ServerResponse pair: the shim owns an http.Server on the container's loopback
// (functions run without a network, but loopback is private to the container), gives it the handler
// as its request listener, and sends each invocation through it. The function's response, streamed
// or not, comes back as it wrote it.
import { nodeAppKind } from "../../shared/handler-shape.mjs";
import { emit, nodeRequire } from "./logs.mjs";

/** Hop-by-hop headers: they describe the shim's connection, not the invocation. */
const HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "te",
  "trailer",
]);

/** node:http on node and bun through require (see main.mjs); on Deno its Node layer, loaded here. */
async function nodeHttp() {
  return nodeRequire ? nodeRequire("node:http") : await import("node:http");
}

/**
 * The request listener of a (req, res) function or an app.
 * @param {string} shape "node-http" or "node-app"
 */
async function requestListener(shape, target) {
  if (shape === "node-http") return target;
  switch (nodeAppKind(target)) {
    case "express":
      return target;
    case "koa":
      return target.callback();
    case "fastify":
      await target.ready();
      return (req, res) => target.server.emit("request", req, res);
    case "server":
      return (req, res) => target.emit("request", req, res);
    default:
      throw new TypeError("not a Node app: expected an Express, Koa or Fastify app or an http.Server");
  }
}

/**
 * Starts the loopback server for one handler; returns the function that runs one invocation.
 * @param {string} shape "node-http" or "node-app"
 * @param {{ listen?: Function }} [original] http.Server.prototype.listen as it was before the
 *   module loaded (load-handler.mjs captures listen() calls while importing).
 */
export async function nodeHttpRunner(shape, target, original = {}) {
  const http = await nodeHttp();
  const listener = await requestListener(shape, target);
  const server = http.createServer((req, res) => {
    const fail = (err) => {
      emit("error", `handler threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (res.headersSent) return res.destroy();
      const message = err instanceof Error ? err.message : String(err);
      res.writeHead(500, { "content-type": "application/json", "kumo-error": "FN_004" });
      res.end(JSON.stringify({ code: "FN_004", message }));
    };
    try {
      const pending = listener(req, res);
      if (pending && typeof pending.then === "function") pending.then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  });
  // The shim's own agent keeps connections open: no idle close to race a reuse (ECONNRESET), and
  // no request timeout shorter than the function's own.
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  const listen = original.listen ?? server.listen;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    listen.call(server, 0, "127.0.0.1", () => resolve(undefined));
  });
  const { port } = server.address();
  const agent = new http.Agent({ keepAlive: true });

  /**
   * @param {{ method: string, path: string, headers: Record<string, string | string[]>, body: Uint8Array }} inv
   * @param {import("node:http").ServerResponse} res
   */
  return (inv, res) =>
    new Promise((resolve, reject) => {
      /** @type {Record<string, string | string[]>} */
      const headers = {};
      for (const [name, value] of Object.entries(inv.headers)) {
        if (!HOP.has(name) && name !== "content-length") headers[name] = value;
      }
      headers["content-length"] = String(inv.body.byteLength);
      const out = http.request(
        { host: "127.0.0.1", port, method: inv.method, path: inv.path, headers, agent },
        (upstream) => {
          /** @type {Record<string, string | string[]>} */
          const back = {};
          for (const [name, value] of Object.entries(upstream.headers)) {
            if (!HOP.has(name) && value !== undefined) back[name] = value;
          }
          res.writeHead(upstream.statusCode ?? 200, back);
          upstream.on("data", (chunk) => res.write(chunk));
          upstream.on("end", () => {
            res.end();
            resolve(undefined);
          });
          upstream.on("error", reject);
        },
      );
      out.on("error", reject);
      out.end(inv.body);
    });
}
