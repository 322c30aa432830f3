import { packSourceArchive } from "@kumo/source";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuildKit, startBuildKitWithNode } from "../builder/builder-kit.ts";

/**
 * Custom images that listen on a TCP port (kumo.json `port`), as images made for OpenFaaS, Knative
 * or Cloud Run do, run behind kumo-bridge: deployed through a real builder (load check included)
 * and invoked through the gateway and a real autoscaler. The images know nothing about Kumo.
 */
let kit: BuildKit;

/** A plain Python server on $PORT (no socket, no /invoke, no /healthz): echoes what it was sent. */
const PLAIN_SERVER = `
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path.startswith("/status/"):
            status = int(url.path.rsplit("/", 1)[1])
        elif url.path == "/" or url.path == "/hello":
            status = 200
        else:
            status = 404
        out = json.dumps({
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "bodyBytes": len(body),
            "bodyStart": body[:20].decode("latin-1"),
            "greeting": self.headers.get("x-greeting"),
            "host": self.headers.get("host"),
            "forwardedHost": self.headers.get("x-forwarded-host"),
            "forwardedPrefix": self.headers.get("x-forwarded-prefix"),
        }).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("x-served-by", "plain-server")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

port = int(os.environ["PORT"])
print(f"plain server listening on {port}", flush=True)
print("a line on stderr", file=sys.stderr, flush=True)
ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
`;

const dockerfile = (script: string) =>
  [
    "FROM kumo/runtime-python:latest",
    `COPY ${script} /app/${script}`,
    "WORKDIR /app",
    `ENTRYPOINT ["/usr/bin/python3.11", "-u", "/app/${script}"]`,
    "",
  ].join("\n");

let node: Awaited<ReturnType<typeof startBuildKitWithNode>> | undefined;

beforeAll(async () => {
  node = await startBuildKitWithNode("port-bridge", ["python", "container"]);
  kit = node.kit;
}, 300_000);

afterAll(async () => {
  await node?.close();
});

describe("port bridge - images that listen on a TCP port", () => {
  it("port bridge - a plain server on port 8080 serves path, query, method, body, headers and statuses", async () => {
    const d = await kit.deploy("plain", "container", {
      Dockerfile: dockerfile("server.py"),
      "server.py": PLAIN_SERVER,
      "kumo.json": JSON.stringify({ runtime: "container", port: 8080 }),
    });
    expect(d.status, JSON.stringify(d)).toBe("succeeded");
    expect(d.log).toMatch(/load check: the server answers on port 8080/);
    const fn = `/fn/${kit.tenant.name}/plain`;

    const hello = await kit.tg.call("GET", `${fn}/hello?x=1&y=a%20b`, { headers: { "x-greeting": "hi" } });
    expect(hello.status, hello.body).toBe(200);
    expect(hello.headers["x-served-by"]).toBe("plain-server");
    expect(hello.json).toMatchObject({
      method: "GET",
      path: "/hello",
      query: "x=1&y=a%20b",
      bodyBytes: 0,
      greeting: "hi",
    });

    // The gateway's forwarding headers reach the server; its Host is the one the client asked for.
    expect(hello.json.forwardedPrefix).toBe(fn);
    expect(hello.json.forwardedHost).toBeTruthy();
    expect(hello.json.host).toBe(hello.json.forwardedHost);

    const root = await kit.tg.call("GET", `${fn}/`);
    expect(root.status, root.body).toBe(200);
    expect(root.json.path).toBe("/");

    // A body larger than one read/write buffer passes whole, both ways of the bridge.
    const big = Buffer.alloc(1024 * 1024, "k");
    big.write("payload-start", 0);
    const posted = await kit.tg.call("PUT", `${fn}/hello`, {
      body: big,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(posted.status, posted.body).toBe(200);
    expect(posted.json).toMatchObject({
      method: "PUT",
      bodyBytes: big.length,
      bodyStart: "payload-startkkkkkkk",
    });

    // The server's own statuses pass as they are (not turned into platform errors).
    const teapot = await kit.tg.call("DELETE", `${fn}/status/418`);
    expect(teapot.status).toBe(418);
    expect(teapot.json.method).toBe("DELETE");
    const missing = await kit.tg.call("GET", `${fn}/nowhere`);
    expect(missing.status).toBe(404);
    expect(missing.headers["x-served-by"]).toBe("plain-server");

    // The server's stdout and stderr are the function's logs.
    const deadline = Date.now() + 20_000;
    let messages: string[] = [];
    while (Date.now() < deadline) {
      const logs = await kit.tg.call("GET", "/v1/functions/plain/logs?order=asc&limit=200", {
        key: kit.tenant.key,
      });
      messages = (logs.json?.items ?? []).map((l: { message: string }) => l.message);
      if (messages.some((m) => m.includes("a line on stderr"))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(messages).toEqual(expect.arrayContaining(["plain server listening on 8080", "a line on stderr"]));
  }, 180_000);

  it("port bridge - a server that never opens its port fails the deploy's load check with FN_005", async () => {
    const d = await kit.deploy("never-listens", "container", {
      Dockerfile: dockerfile("sleeper.py"),
      "sleeper.py": 'import time\nprint("warming up forever", flush=True)\ntime.sleep(3600)\n',
      "kumo.json": JSON.stringify({ runtime: "container", port: 8080 }),
    });
    expect(d.status, JSON.stringify(d)).toBe("failed");
    expect(d.error?.code).toBe("FN_005");
    expect(d.error?.message).toContain("did not accept connections on port 8080 within 10 s");
    expect(d.log).toContain("warming up forever");
    const alias = await kit.tg.call("GET", "/v1/functions/never-listens/aliases", { key: kit.tenant.key });
    expect(alias.json.items[0]?.routing ?? []).toEqual([]);
  }, 120_000);

  it("port bridge - a server that exits, or a health path that never answers 2xx, fails with FN_005 saying so", async () => {
    const exits = await kit.deploy("exits", "container", {
      Dockerfile: dockerfile("exits.py"),
      "exits.py": 'import sys\nprint("missing DATABASE_URL", file=sys.stderr)\nsys.exit(3)\n',
      "kumo.json": JSON.stringify({ runtime: "container", port: 8080 }),
    });
    expect(exits.status, JSON.stringify(exits)).toBe("failed");
    expect(exits.error?.code).toBe("FN_005");
    expect(exits.error?.message).toMatch(/exited with code 3 while loading: .*missing DATABASE_URL/);

    // The port is open, but the health path says 503: not ready, so not deployed.
    const unhealthy = await kit.deploy("unhealthy", "container", {
      Dockerfile: dockerfile("server.py"),
      "server.py": PLAIN_SERVER,
      "kumo.json": JSON.stringify({ runtime: "container", port: 8080, healthPath: "/status/503" }),
    });
    expect(unhealthy.status, JSON.stringify(unhealthy)).toBe("failed");
    expect(unhealthy.error?.code).toBe("FN_005");
    expect(unhealthy.error?.message).toContain("GET /status/503 on its port 8080 did not answer 2xx");

    const healthy = await kit.deploy("unhealthy", "container", {
      Dockerfile: dockerfile("server.py"),
      "server.py": PLAIN_SERVER,
      "kumo.json": JSON.stringify({ runtime: "container", port: 8080, healthPath: "/status/204" }),
    });
    expect(healthy.status, JSON.stringify(healthy)).toBe("succeeded");
    const res = await kit.tg.call("POST", `/fn/${kit.tenant.name}/unhealthy/hello?via=health`, {
      body: "x=1",
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toMatchObject({ method: "POST", query: "via=health", bodyBytes: 3 });
  }, 180_000);

  it("port bridge - a bad port, or port on another runtime, is FN_006 naming the field", async () => {
    await kit.ensureFunction("bad-port", "container");
    const deploy = async (config: Record<string, unknown>) =>
      kit.tg.call("POST", "/v1/functions/bad-port/deployments", {
        key: kit.tenant.key,
        body: await packSourceArchive(
          new Map([
            ["Dockerfile", Buffer.from(dockerfile("server.py"))],
            ["server.py", Buffer.from(PLAIN_SERVER)],
            ["kumo.json", Buffer.from(JSON.stringify({ runtime: "container", ...config }))],
          ]),
        ),
        headers: { "content-type": "application/x-tar" },
      });
    for (const port of [0, 70_000, 80.5, "8080"]) {
      const res = await deploy({ port });
      expect(res.status, res.body).toBe(400);
      expect(res.json.error.code).toBe("FN_006");
      expect(res.json.error.details.problems.map((p: { field: string }) => p.field)).toEqual(["port"]);
    }
    const noPort = await deploy({ healthPath: "/ready" });
    expect(noPort.status).toBe(400);
    expect(noPort.json.error.message).toMatch(/healthPath: needs port/);
    const badPath = await deploy({ port: 8080, healthPath: "ready now" });
    expect(badPath.status).toBe(400);
    expect(badPath.json.error.message).toMatch(/healthPath: must be a path starting with '\/'/);

    await kit.ensureFunction("node-port", "node");
    const patched = await kit.tg.call("PATCH", "/v1/functions/node-port", {
      key: kit.tenant.key,
      body: { config: { port: 8080 } },
    });
    expect(patched.status, patched.body).toBe(400);
    expect(patched.json.error.code).toBe("FN_006");
    expect(patched.json.error.message).toMatch(/port: is for runtime "container".*not "node"/);
  }, 60_000);
});
