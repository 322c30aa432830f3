import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureRuntimeImages,
  type RunningFunction,
  RuntimeHarness,
  SETUP_TIMEOUT_MS,
} from "./runtime-harness.ts";

/**
 * Python handler shapes of other platforms, written from their documented contracts (PEP 3333 WSGI,
 * ASGI 3.0, OpenFaaS's python3 and python3-http templates) as plain standard-library callables (the
 * image has no Flask or FastAPI): each module is loaded by a stem cell on /init and invoked as is.
 */
const files: Record<string, string> = {
  // Flask's shape: an app object with wsgi_app, called as app(environ, start_response).
  "flaskish.py": `
import json

class App:
    def wsgi_app(self, environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size).decode()
        data = {"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"], "query": environ["QUERY_STRING"],
                "body": body, "custom": environ.get("HTTP_X_CUSTOM"), "type": environ.get("CONTENT_TYPE")}
        start_response("201 Created", [("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return [json.dumps(data).encode()]

    def __call__(self, environ, start_response):
        return self.wsgi_app(environ, start_response)

app = App()
`,
  // A bare WSGI callable named application (Django's wsgi.py convention), streaming an iterable.
  "wsgi_plain.py": `
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"plain "
    yield environ["PATH_INFO"].encode()
`,
  // FastAPI's shape: async app(scope, receive, send), with lifespan startup.
  "asgi_app.py": `
import json

state = {"started": False}

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                state["started"] = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = dict(scope["headers"])
    data = {"method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode(),
            "body": body.decode(), "custom": headers.get(b"x-custom", b"").decode(), "started": state["started"]}
    await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(data).encode(), "more_body": True})
    await send({"type": "http.response.body", "body": b""})
`,
  // OpenFaaS python3 template: handle(req) gets the body as a string and returns the answer.
  "openfaas_classic.py": `
def handle(req):
    return "Hello! You said: " + req
`,
  // OpenFaaS python3-http template: handle(event, context) returning statusCode/body/headers.
  "openfaas_http.py": `
def handle(event, context):
    return {"statusCode": 203, "headers": {"x-shape": "openfaas"},
            "body": {"method": event.method, "path": event.path, "query": event.query, "body": event.body.decode()}}
`,
  "broken.py": "answer = 42\n",
};

describe("handler shapes - python", () => {
  const harness = new RuntimeHarness();
  const fns: Record<string, RunningFunction> = {};
  const inits: Record<string, { status: number; body: string }> = {};
  const names = ["flaskish", "wsgi_plain", "asgi_app", "openfaas_classic", "openfaas_http", "broken"];
  const fn = (name: string) => {
    const found = fns[name];
    if (!found) throw new Error(`no function ${name}`);
    return found;
  };
  const invoke = (
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) => ({
    method: init.method ?? "GET",
    path: `/invoke${path}`,
    headers: { "kumo-invocation-id": `inv-${Math.random().toString(36).slice(2)}`, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });

  beforeAll(async () => {
    await ensureRuntimeImages(["python"]);
    const codeMount = harness.writeCode(files);
    await Promise.all(
      names.map(async (name) => {
        const cell = await harness.start("kumo/runtime-python:latest", { codeMount });
        const init = await cell.request({
          method: "POST",
          path: "/init",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ codeDir: "/code", handler: name }),
        });
        inits[name] = { status: init.status, body: init.body.toString("utf8") };
        fns[name] = cell;
      }),
    );
  }, SETUP_TIMEOUT_MS);
  afterAll(() => harness.cleanup());

  it("init - each module's shape is detected; a module without one is FN_005 naming the accepted shapes", () => {
    const kinds = Object.fromEntries(
      names
        .filter((n) => n !== "broken")
        .map((n) => [n, [inits[n]?.status, JSON.parse(inits[n]?.body ?? "{}").kind]]),
    );
    expect(kinds).toEqual({
      flaskish: [200, "wsgi"],
      wsgi_plain: [200, "wsgi"],
      asgi_app: [200, "asgi"],
      openfaas_classic: [200, "openfaas"],
      openfaas_http: [200, "openfaas"],
    });
    expect(inits.broken?.status).toBe(500);
    const refused = JSON.parse(inits.broken?.body ?? "{}") as { code: string; message: string };
    expect(refused.code).toBe("FN_005");
    expect(refused.message).toMatch(/Kumo accepts: def handler\(event, context\) \(Lambda\); a WSGI app/);
  });

  it("wsgi - a Flask-style app gets a PEP 3333 environ; status, repeated headers and body come back", async () => {
    const res = await fn("flaskish").request(
      invoke("/items/a%20b?x=1&y=2", {
        method: "POST",
        body: "hello",
        headers: { "content-type": "text/plain", "x-custom": "yes" },
      }),
    );
    expect(res.status).toBe(201);
    expect(res.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
    expect(res.json()).toEqual({
      method: "POST",
      path: "/items/a b",
      query: "x=1&y=2",
      body: "hello",
      custom: "yes",
      type: "text/plain",
    });
    const plain = await fn("wsgi_plain").request(invoke("/p"));
    expect([plain.status, plain.body.toString()]).toEqual([200, "plain /p"]);
  });

  it("asgi - an async (scope, receive, send) app after its lifespan startup; a chunked body is joined", async () => {
    const res = await fn("asgi_app").request(
      invoke("/a/b?q=1", { method: "PUT", body: "data", headers: { "x-custom": "v" } }),
    );
    expect(res.status).toBe(202);
    expect(res.json()).toEqual({
      method: "PUT",
      path: "/a/b",
      query: "q=1",
      body: "data",
      custom: "v",
      started: true,
    });
  });

  it("openfaas - handle(req) gets the body text; handle(event, context) answers statusCode/headers/body", async () => {
    const classic = await fn("openfaas_classic").request(invoke("/", { method: "POST", body: "hi" }));
    expect([classic.status, classic.body.toString()]).toEqual([200, "Hello! You said: hi"]);
    const http = await fn("openfaas_http").request(invoke("/p?a=1", { method: "POST", body: "b" }));
    expect([http.status, http.headers["x-shape"]]).toEqual([203, "openfaas"]);
    expect(http.json()).toEqual({ method: "POST", path: "/p", query: { a: "1" }, body: "b" });
  });
});
