import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeHarness } from "./edge-harness.ts";
import {
  ensureRuntimeImages,
  type RunningFunction,
  RuntimeHarness,
  SETUP_TIMEOUT_MS,
} from "./runtime-harness.ts";

/** The shared rule (plain JS, run inside the shims and isolates), loaded by URL and typed here. */
interface ShapeModule {
  detectShape(
    mod: Record<string, unknown>,
    options?: { served?: unknown; declared?: string },
  ): { shape: string; target: unknown } | null;
  paramNames(fn: unknown): string[];
}
interface NodeHttpModule {
  nodeHttpRunner(
    shape: string,
    target: unknown,
  ): Promise<
    (
      inv: { method: string; path: string; headers: Record<string, string>; body: Buffer },
      res: import("node:http").ServerResponse,
    ) => Promise<void>
  >;
}
const repoFile = (path: string) => new URL(`../../${path}`, import.meta.url).href;
const { detectShape, paramNames } = (await import(
  repoFile("runtimes/shared/handler-shape.mjs")
)) as ShapeModule;

/**
 * Handler shapes of other platforms, written from each platform's documented handler contract, run
 * unmodified: every JS runtime (node, bun, deno containers and edge isolates) loads the same module
 * the same way (runtimes/shared/handler-shape.mjs). One directory per shape; each container is a stem
 * cell given that directory on /init, and edge deploys the directory's files.
 */
const shapes: Record<string, Record<string, string>> = {
  // Deno Deploy / Supabase edge functions: Deno.serve at the top of the module, Deno.env for config.
  "deno-serve": {
    "index.ts": `
Deno.serve(async (req: Request) => {
  const url = new URL(req.url);
  const { name } = req.method === "POST" ? await req.json() : { name: url.searchParams.get("name") };
  const data = { message: \`Hello \${name}!\`, greeting: Deno.env.get("GREETING") ?? null };
  return new Response(JSON.stringify(data), { headers: { "Content-Type": "application/json" } });
});
`,
  },
  // Netlify functions (2.0) and Vercel edge: a default-exported (request, context) -> Response.
  web: {
    "index.mjs": `
export default async (req, context) => {
  const url = new URL(req.url);
  context.waitUntil(Promise.resolve());
  return new Response(\`web \${req.method} \${url.pathname}\${url.search} \${await req.text()}\`, {
    status: 202,
    headers: { "x-shape": "web", "content-type": "text/plain" },
  });
};
`,
  },
  // Node's http (req, res) handler as module.exports.
  "node-http": {
    "index.cjs": `
module.exports = (req, res) => {
  if (req.url === "/throw") throw new Error("kaboom from req-res");
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    res.statusCode = 201;
    res.setHeader("content-type", "application/json");
    res.setHeader("set-cookie", ["a=1", "b=2"]);
    res.end(JSON.stringify({ method: req.method, url: req.url, body, custom: req.headers["x-custom"] ?? null,
      incoming: req.constructor.name, socket: typeof req.socket?.remoteAddress }));
  });
};
`,
  },
  // An exported http.Server (what Express's and Koa's listen() make), streaming its answer.
  "node-server": {
    "index.mjs": `
import { createServer } from "node:http";
const server = createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.write("server ");
  setTimeout(() => res.end(req.method + " " + req.url), 5);
});
export default server;
`,
  },
  // A module that only calls listen(), as most Express examples do: captured while it loads.
  listen: {
    "index.mjs": `
import http from "node:http";
const port = Number(process.env.PORT ?? 3000);
http.createServer((req, res) => res.end("listened " + req.url)).listen(port, () => console.log("listening on", port));
`,
  },
  // OpenFaaS node templates: module.exports = async (event, context) with context.status().succeed().
  openfaas: {
    "index.cjs": `
"use strict";
module.exports = async (event, context) => {
  if (event.query.fail) return context.status(422).fail("bad input: " + event.query.fail);
  const result = { status: "Received input: " + JSON.stringify(event.body), method: event.method,
    path: event.path, query: event.query, type: event.headers["content-type"] ?? null };
  return context.status(201).headers({ "x-shape": "openfaas" }).succeed(result);
};
`,
  },
  // Knative func (Node): module.exports = { handle } with handle(context, body); CloudEvents in and out.
  knative: {
    "index.cjs": `
const handle = async (context, body) => {
  context.log.info("knative got", context.method);
  if (context.cloudevent) {
    return { specversion: "1.0", id: "reply-1", source: "/kumo/test", type: "dev.kumo.reply",
      datacontenttype: "application/json", data: { echoed: body, from: context.cloudevent.type } };
  }
  if (context.method === "POST") return { statusCode: 201, headers: { "x-shape": "knative" }, body };
  return { query: context.query };
};
module.exports = { handle };
`,
  },
  // No shape Kumo knows.
  unsupported: { "index.mjs": "export const answer = 42;\n" },
};

/** The shapes each runtime family runs; the Node shapes are refused on edge (FN_005). */
const NODE_SHAPES = ["node-http", "node-server"];
type Lang = "node" | "bun" | "deno" | "edge";

/**
 * The shape's files as edge deploys them, at the root: its bundler's entry is index.{ts,js,mjs}, and
 * a CommonJS index.js is what index.cjs is to Node.
 */
function edgeFiles(shape: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(shapes[shape] ?? {}).map(([path, content]) => [path.replace(/\.cjs$/, ".js"), content]),
  );
}

const invoke = (
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) => ({
  method: init.method ?? "GET",
  path: `/invoke${path}`,
  headers: { "kumo-invocation-id": `inv-${Math.random().toString(36).slice(2)}`, ...init.headers },
  ...(init.body === undefined ? {} : { body: init.body }),
});

function describeShapes(lang: Lang): void {
  const onEdge = lang === "edge";
  describe(`handler shapes - ${lang}`, () => {
    const harness = new RuntimeHarness();
    const edge = new EdgeHarness();
    const fns: Record<string, Pick<RunningFunction, "request">> = {};
    const inits: Record<string, { status: number; body: string }> = {};
    const fn = (name: string) => {
      const found = fns[name];
      if (!found) throw new Error(`no function for shape ${name}`);
      return found;
    };
    const names = Object.keys(shapes).filter(
      (s) =>
        s !== "unsupported" &&
        !(s === "listen" && (lang === "deno" || onEdge)) &&
        !(onEdge && NODE_SHAPES.includes(s)),
    );

    beforeAll(async () => {
      if (onEdge) {
        for (const name of names) fns[name] = await edge.start(edgeFiles(name), { GREETING: "hi" });
        return;
      }
      await ensureRuntimeImages([lang]);
      const codeMount = harness.writeCode(
        Object.fromEntries(
          Object.entries(shapes).flatMap(([name, files]) =>
            Object.entries(files).map(([path, content]) => [`${name}/${path}`, content]),
          ),
        ),
      );
      await Promise.all(
        [...names, "unsupported"].map(async (name) => {
          const cell = await harness.start(`kumo/runtime-${lang}:latest`, { codeMount });
          const init = await cell.request({
            method: "POST",
            path: "/init",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ codeDir: "/code", handler: name, env: { GREETING: "hi" } }),
          });
          inits[name] = { status: init.status, body: init.body.toString("utf8") };
          fns[name] = cell;
        }),
      );
    }, SETUP_TIMEOUT_MS);
    afterAll(() => Promise.all([harness.cleanup(), edge.cleanup()]));

    if (!onEdge) {
      it("init - each shape loads and says which it is; an unknown module is FN_005 naming the accepted shapes", () => {
        for (const name of names) {
          expect([name, inits[name]?.status]).toEqual([name, 200]);
          const kind = (JSON.parse(inits[name]?.body ?? "{}") as { kind?: string }).kind;
          expect([name, kind]).toEqual([
            name,
            name === "node-server" || name === "listen" ? "node-app" : name,
          ]);
        }
        expect(inits.unsupported?.status).toBe(500);
        const refused = JSON.parse(inits.unsupported?.body ?? "{}") as { code: string; message: string };
        expect(refused.code).toBe("FN_005");
        expect(refused.message).toContain("no handler shape found");
        expect(refused.message).toMatch(/Kumo accepts: export default \{ fetch \} \(Workers\); Deno\.serve/);
        expect(refused.message).toContain("(req, res)");
      });
    }

    it("deno-serve - Deno.serve(handler) at top level answers, with Deno.env", async () => {
      const get = await fn("deno-serve").request(invoke("/?name=Kumo"));
      expect(get.status).toBe(200);
      expect(get.json()).toEqual({ message: "Hello Kumo!", greeting: "hi" });
      const post = await fn("deno-serve").request(
        invoke("/", {
          method: "POST",
          body: JSON.stringify({ name: "Functions" }),
          headers: { "content-type": "application/json" },
        }),
      );
      expect(post.json()).toEqual({ message: "Hello Functions!", greeting: "hi" });
      expect(post.headers["content-type"]).toBe("application/json");
    });

    it("web - a default-exported (request, context) function gets a Request and its Response is sent", async () => {
      const res = await fn("web").request(invoke("/a/b?c=1", { method: "POST", body: "hello" }));
      expect([res.status, res.headers["x-shape"], res.body.toString()]).toEqual([
        202,
        "web",
        "web POST /a/b?c=1 hello",
      ]);
    });

    it("openfaas - event and context.status().headers().succeed(), and fail()", async () => {
      const ok = await fn("openfaas").request(
        invoke("/items?x=1", {
          method: "POST",
          body: JSON.stringify({ n: 1 }),
          headers: { "content-type": "application/json" },
        }),
      );
      expect([ok.status, ok.headers["x-shape"], ok.headers["content-type"]]).toEqual([
        201,
        "openfaas",
        "application/json",
      ]);
      expect(ok.json()).toEqual({
        status: 'Received input: {"n":1}',
        method: "POST",
        path: "/items",
        query: { x: "1" },
        type: "application/json",
      });
      const failed = await fn("openfaas").request(invoke("/?fail=nope"));
      expect([failed.status, failed.body.toString()]).toEqual([422, "bad input: nope"]);
    });

    it("knative - handle(context, body): HTTP results and a CloudEvent answered in binary mode", async () => {
      const post = await fn("knative").request(
        invoke("/", {
          method: "POST",
          body: JSON.stringify({ a: 1 }),
          headers: { "content-type": "application/json" },
        }),
      );
      expect([post.status, post.headers["x-shape"]]).toEqual([201, "knative"]);
      expect(post.json()).toEqual({ a: 1 });
      const get = await fn("knative").request(invoke("/?q=v"));
      expect(get.json()).toEqual({ query: { q: "v" } });
      const event = await fn("knative").request(
        invoke("/", {
          method: "POST",
          body: JSON.stringify({ order: 7 }),
          headers: {
            "content-type": "application/json",
            "ce-id": "e-1",
            "ce-type": "dev.kumo.order",
            "ce-source": "/shop",
            "ce-specversion": "1.0",
          },
        }),
      );
      expect([event.status, event.headers["ce-type"], event.headers["ce-id"]]).toEqual([
        200,
        "dev.kumo.reply",
        "reply-1",
      ]);
      expect(event.json()).toEqual({ echoed: { order: 7 }, from: "dev.kumo.order" });
    });

    if (onEdge) {
      it("node shapes - (req, res) and an exported http.Server are FN_005 on edge, naming the shape", async () => {
        const reqRes = await edge.start(edgeFiles("node-http"));
        const res = await reqRes.request(invoke("/"));
        expect(res.headers["kumo-error"]).toBe("FN_005");
        expect((res.json() as { message: string }).message).toMatch(
          /a Node \(req, res\) handler, which needs Node's http module: edge isolates have none/,
        );
        // An app imports node:http, which the edge bundler refuses at deploy.
        await expect(edge.start(edgeFiles("node-server"))).rejects.toMatchObject({
          code: "FN_005",
          message: expect.stringContaining('needs "node:http"'),
        });
        const none = await edge.start(edgeFiles("unsupported"));
        const refused = await none.request(invoke("/"));
        expect(refused.headers["kumo-error"]).toBe("FN_005");
        expect((refused.json() as { message: string }).message).toMatch(
          /Kumo accepts: export default \{ fetch \}/,
        );
      });
      return;
    }

    it("node-http - (req, res) runs on a real IncomingMessage/ServerResponse; a throw is FN_004", async () => {
      const res = await fn("node-http").request(
        invoke("/p?q=1", { method: "PUT", body: "data", headers: { "x-custom": "yes" } }),
      );
      expect(res.status).toBe(201);
      expect(res.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
      expect(res.json()).toEqual({
        method: "PUT",
        url: "/p?q=1",
        body: "data",
        custom: "yes",
        incoming: "IncomingMessage",
        socket: "string",
      });
      const thrown = await fn("node-http").request(invoke("/throw"));
      expect([thrown.status, thrown.headers["kumo-error"]]).toEqual([500, "FN_004"]);
      expect((thrown.json() as { message: string }).message).toBe("kaboom from req-res");
      expect((await fn("node-http").request(invoke("/again"))).status).toBe(201);
    });

    it("node-app - an exported http.Server answers (streamed); a module that only calls listen() too", async () => {
      const res = await fn("node-server").request(invoke("/s?x=1", { method: "DELETE" }));
      expect([res.status, res.body.toString()]).toEqual([200, "server DELETE /s?x=1"]);
      if (lang === "deno") return;
      const listened = await fn("listen").request(invoke("/l"));
      expect([listened.status, listened.body.toString()]).toEqual([200, "listened /l"]);
    });
  });
}

describe("handler shapes - detection rule", () => {
  it("rule - parameter names decide a default function's shape; handler is Lambda; handle is Knative", () => {
    expect(paramNames(async (req: unknown, res: unknown) => [req, res])).toEqual(["req", "res"]);
    expect(
      paramNames(function named(event = {}, { a } = { a: 1 }, ...rest: unknown[]) {
        return [event, a, rest];
      }),
    ).toEqual(["event", "", ""]);
    const shape = (mod: Record<string, unknown>) => detectShape(mod)?.shape;
    expect(shape({ default: { fetch() {} } })).toBe("workers");
    expect(shape({ default: (request: unknown) => request })).toBe("web");
    expect(shape({ default: () => null })).toBe("web");
    expect(shape({ default: (req: unknown, res: unknown) => [req, res] })).toBe("node-http");
    expect(shape({ default: (event: unknown, context: unknown) => [event, context] })).toBe("openfaas");
    expect(shape({ handler: (event: unknown, context: unknown) => [event, context] })).toBe("lambda");
    expect(shape({ handler: (request: unknown, response: unknown) => [request, response] })).toBe(
      "node-http",
    );
    expect(shape({ handle: (context: unknown, body: unknown) => [context, body] })).toBe("knative");
    expect(shape({ step: () => 1 })).toBe("step");
    expect(shape({ nothing: 1 })).toBeUndefined();
    expect(detectShape({}, { served: () => null })?.shape).toBe("deno-serve");
    // kumo.json's handlerShape overrides the guess.
    expect(detectShape({ default: (event: unknown) => event }, { declared: "openfaas" })?.shape).toBe(
      "openfaas",
    );
    expect(detectShape({ handler: () => 1 }, { declared: "web" })?.shape).toBe("web");
    expect(() => detectShape({}, { declared: "nope" })).toThrow(/unknown handlerShape "nope"/);
  });

  it("node-app - a real Fastify instance is recognised and served through the loopback runner", async () => {
    const require = createRequire(import.meta.url);
    const fastify = require("fastify") as (opts?: object) => {
      get(path: string, handler: (req: { query: unknown }) => unknown): void;
      close(): Promise<void>;
    };
    const app = fastify();
    app.get("/hi", async (req) => ({ hello: "fastify", query: req.query }));
    expect(detectShape({ default: app })?.shape).toBe("node-app");
    const { nodeHttpRunner } = (await import(
      repoFile("runtimes/node/shim/node-http-handler.mjs")
    )) as NodeHttpModule;
    const run = await nodeHttpRunner("node-app", app);
    const { createServer, request } = await import("node:http");
    // A real ServerResponse to write into, as the shim has one.
    const server = createServer((_req, res) => {
      void run({ method: "GET", path: "/hi?x=1", headers: { host: "fn" }, body: Buffer.alloc(0) }, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const text = await new Promise<string>((resolve, reject) => {
      request({ host: "127.0.0.1", port }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(body));
      })
        .on("error", reject)
        .end();
    });
    expect(JSON.parse(text)).toEqual({ hello: "fastify", query: { x: "1" } });
    server.close();
    await app.close();
  });
});

for (const lang of ["node", "bun", "deno", "edge"] as const) describeShapes(lang);
