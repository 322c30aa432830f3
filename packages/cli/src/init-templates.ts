import { type FunctionTemplate, type RuntimeName, runtimeFamily } from "@kumo/core";

/** The files `kumo init` writes: path relative to the function directory → content. */
export type TemplateFiles = Record<string, string>;

const KUMOIGNORE = `# Files matching these globs are not uploaded by \`kumo deploy\`.
# node_modules/, .git/ and .kumo/ are never uploaded.
*.log
.env
`;

/** Keeps installed packages and local secrets out of `git push` deploys, which build from the commit. */
const GITIGNORE = `node_modules/
.env
.kumo/
`;

const JS_FETCH_HANDLER = `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const name = url.searchParams.get("name") ?? "world";
    // env holds the function's variables and secrets: \`kumo env <fn> set GREETING=hi\` changes the word.
    const greeting = env.GREETING ?? "Hello";
    return Response.json({ message: \`\${greeting}, \${name}!\`, method: request.method, path: url.pathname });
  },
};
`;

const TS_FETCH_HANDLER = `export default {
  async fetch(request: Request, env: Record<string, string>, ctx: unknown): Promise<Response> {
    const url = new URL(request.url);
    const name = url.searchParams.get("name") ?? "world";
    // env holds the function's variables and secrets: \`kumo env <fn> set GREETING=hi\` changes the word.
    const greeting = env.GREETING ?? "Hello";
    return Response.json({ message: \`\${greeting}, \${name}!\`, method: request.method, path: url.pathname });
  },
};
`;

const PYTHON_HANDLER = `import json


def handler(event, context):
    params = event.get("queryStringParameters") or {}
    name = params.get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": f"Hello, {name}!"}),
    }
`;

const GO_HANDLER = `package function

import (
	"encoding/json"
	"net/http"
)

// Handle serves every request to the function.
func Handle(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "world"
	}
	w.Header().Set("content-type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"message": "Hello, " + name + "!"})
}
`;

const CONTAINER_DOCKERFILE = `# Any image works: Kumo runs its ENTRYPOINT/CMD behind its port bridge, with PORT set to kumo.json's
# "port", and sends each request to the server listening there (no Kumo code in the image).
ARG BASE_IMAGE=python:3.11-slim
FROM \${BASE_IMAGE}
WORKDIR /app
COPY server.py .
USER 1000
CMD ["python3", "-u", "server.py"]
`;

const CONTAINER_SERVER = `import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    def _reply(self):
        url = urlparse(self.path)
        name = parse_qs(url.query).get("name", ["world"])[0]
        body = json.dumps({"message": f"Hello, {name}!", "method": self.command, "path": url.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._reply()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self._reply()


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    print(f"listening on :{port}")
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
`;

function kumoJson(name: string, runtime: RuntimeName, handler?: string): string {
  const config: Record<string, unknown> = { name, runtime };
  if (handler !== undefined) config.handler = handler;
  // The TCP port the container template's server listens on (the port bridge forwards to it).
  if (runtime === "container") config.port = 8080;
  config.memoryMb = 128;
  config.timeoutMs = "10s";
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * A minimal function that answers `{"message": "Hello, world!"}` for each runtime: a pinned version
 * ("node22") gets its family's files, with the version in kumo.json.
 */
export function templateFor(name: string, runtime: RuntimeName): TemplateFiles {
  const common = { ".kumoignore": KUMOIGNORE, ".gitignore": GITIGNORE };
  switch (runtimeFamily(runtime)) {
    case "edge":
      return { ...common, "kumo.json": kumoJson(name, runtime, "index.js"), "index.js": JS_FETCH_HANDLER };
    case "node":
      return {
        ...common,
        "kumo.json": kumoJson(name, runtime, "index.js"),
        "index.js": JS_FETCH_HANDLER,
        "package.json": `${JSON.stringify({ name, private: true, type: "module" }, null, 2)}\n`,
      };
    case "bun":
      return { ...common, "kumo.json": kumoJson(name, runtime, "index.ts"), "index.ts": TS_FETCH_HANDLER };
    case "deno":
      return { ...common, "kumo.json": kumoJson(name, runtime, "main.ts"), "main.ts": TS_FETCH_HANDLER };
    case "python":
      return {
        ...common,
        "kumo.json": kumoJson(name, runtime, "main.py"),
        "main.py": PYTHON_HANDLER,
        "requirements.txt": "# one dependency per line, installed at build time\n",
      };
    case "go":
      return {
        ...common,
        "kumo.json": kumoJson(name, runtime),
        "function.go": GO_HANDLER,
        "go.mod": `module ${name}\n\ngo 1.23\n`,
      };
    case "container":
      return {
        ...common,
        "kumo.json": kumoJson(name, runtime),
        Dockerfile: CONTAINER_DOCKERFILE,
        "server.py": CONTAINER_SERVER,
      };
  }
}

/**
 * A gallery template (`kumo init --template`, the same list as the console's) as files to write: its
 * deployed files with the name added to kumo.json, its local samples and .env, and a .kumoignore
 * that keeps .env from being uploaded.
 */
export function filesOfTemplate(name: string, template: FunctionTemplate): TemplateFiles {
  const files: TemplateFiles = {
    ".kumoignore": KUMOIGNORE,
    ".gitignore": GITIGNORE,
    ...template.files,
    ...template.samples,
  };
  const config = JSON.parse(template.files["kumo.json"] ?? "{}") as Record<string, unknown>;
  files["kumo.json"] = `${JSON.stringify({ name, ...config }, null, 2)}\n`;
  return files;
}
