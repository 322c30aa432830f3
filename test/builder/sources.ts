import { gzipSync } from "node:zlib";
import { packSourceArchive } from "@kumo/source";
import { makeWheel } from "./builder-kit.ts";

/** Per runtime: a hello-world, a function using a real dependency, and a code-only edit of the latter. */
export interface RuntimeSources {
  hello: Record<string, string | Buffer>;
  helloSays: string;
  deps: Record<string, string | Buffer>;
  depsSays: string;
  /** `deps` with one code file changed (dependencies unchanged). */
  edited: Record<string, string | Buffer>;
  editedSays: string;
}

const jsFetch = (text: string) =>
  `export default { async fetch(request) { return new Response(${text}); } };\n`;

/** node, bun, deno: the npm package "ms" from the registry (through the proxy CA) for the dependency. */
function js(runtime: "node" | "bun" | "deno"): RuntimeSources {
  const packageJson = JSON.stringify({
    name: `fn-${runtime}`,
    version: "1.0.0",
    type: "module",
    dependencies: { ms: "2.1.3" },
  });
  const withMs = (prefix: string) => `import ms from "ms";\n${jsFetch(`"${prefix} " + ms(7200000)`)}`;
  return {
    hello: { "index.mjs": jsFetch(`"hello from ${runtime}"`) },
    helloSays: `hello from ${runtime}`,
    deps: { "package.json": packageJson, "index.mjs": withMs(runtime) },
    depsSays: `${runtime} 2h`,
    edited: { "package.json": packageJson, "index.mjs": withMs(`${runtime} v2`) },
    editedSays: `${runtime} v2 2h`,
  };
}

function python(): RuntimeSources {
  // PyPI is not reachable here: the dependency is a wheel made by the test, named in requirements.txt by path.
  const wheel = makeWheel("kumo_greet", "1.0", {
    "kumo_greet/__init__.py": "def greet(name):\n    return 'python ' + name + ' greeted'\n",
  });
  const deps = {
    "requirements.txt": `./wheels/${wheel.path}\n`,
    [`wheels/${wheel.path}`]: wheel.content,
  };
  return {
    hello: { "main.py": "def handler(event, context):\n    return 'hello from python'\n" },
    helloSays: "hello from python",
    deps: {
      ...deps,
      "main.py": "import kumo_greet\n\ndef handler(event, context):\n    return kumo_greet.greet('kumo')\n",
    },
    depsSays: "python kumo greeted",
    edited: {
      ...deps,
      "main.py":
        "import kumo_greet\n\ndef handler(event, context):\n    return 'v2 ' + kumo_greet.greet('kumo')\n",
    },
    editedSays: "v2 python kumo greeted",
  };
}

function go(): RuntimeSources {
  // No module proxy here: the dependency is a local module wired in with `replace`.
  const handler = (text: string) =>
    `package function\n\nimport (\n\t"fmt"\n\t"net/http"\n\n\t"example.com/greet"\n)\n\nfunc Handle(w http.ResponseWriter, r *http.Request) {\n\tfmt.Fprint(w, ${text})\n}\n`;
  const deps = {
    "go.mod":
      "module example.com/fn\n\ngo 1.23\n\nrequire example.com/greet v0.0.0\n\nreplace example.com/greet => ./greet\n",
    "greet/go.mod": "module example.com/greet\n\ngo 1.23\n",
    "greet/greet.go":
      'package greet\n\nfunc Greet(name string) string { return "go " + name + " greeted" }\n',
  };
  return {
    hello: {
      "handler.go":
        'package function\n\nimport (\n\t"fmt"\n\t"net/http"\n)\n\nfunc Handle(w http.ResponseWriter, r *http.Request) {\n\tfmt.Fprint(w, "hello from go")\n}\n',
    },
    helloSays: "hello from go",
    deps: { ...deps, "handler.go": handler('greet.Greet("kumo")') },
    depsSays: "go kumo greeted",
    edited: { ...deps, "handler.go": handler('"v2 " + greet.Greet("kumo")') },
    editedSays: "v2 go kumo greeted",
  };
}

/** A local npm package tarball (as `npm pack` makes it), for a custom image's own npm install. */
const greetTarball = gzipSync(
  await packSourceArchive(
    new Map([
      [
        "package/package.json",
        Buffer.from(
          JSON.stringify({ name: "greet", version: "1.0.0", type: "module", exports: "./index.js" }),
        ),
      ],
      ["package/index.js", Buffer.from('export const greet = (name) => "custom " + name + " greeted";\n')],
    ]),
  ),
);

function container(): RuntimeSources {
  const server = (
    text: string,
    useDep: boolean,
  ) => `${useDep ? 'import { greet } from "greet";\n' : ""}import { rmSync } from "node:fs";
import { createServer } from "node:http";
const socketPath = process.env.KUMO_SOCKET || "/run/kumo/rt.sock";
const server = createServer((req, res) => {
  if (req.url === "/healthz") return res.writeHead(200).end("ok");
  res.writeHead(200, { "content-type": "text/plain" }).end(${text});
});
rmSync(socketPath, { force: true });
server.listen(socketPath);
process.on("SIGTERM", () => process.exit(0));
`;
  // A custom image with its own build stage: npm installs a local package (file:) into node_modules.
  const dockerfile = `FROM kumo/build-node:latest AS deps
COPY package.json /build/
COPY greet-1.0.0.tgz /build/
RUN ["/usr/local/bin/node", "/opt/kumo/npm/bin/npm-cli.js", "install", "--omit=dev", "--offline"]
FROM kumo/runtime-node:latest
COPY --from=deps /build/node_modules /app/node_modules
COPY server.mjs /app/server.mjs
ENTRYPOINT ["/usr/local/bin/node", "/app/server.mjs"]
`;
  const deps = {
    Dockerfile: dockerfile,
    "package.json": JSON.stringify({
      name: "custom",
      version: "1.0.0",
      dependencies: { greet: "file:./greet-1.0.0.tgz" },
    }),
    "greet-1.0.0.tgz": greetTarball,
  };
  return {
    hello: {
      Dockerfile:
        'FROM kumo/runtime-node:latest\nCOPY server.mjs /app/server.mjs\nENTRYPOINT ["/usr/local/bin/node", "/app/server.mjs"]\n',
      "server.mjs": server('"hello from container"', false),
    },
    helloSays: "hello from container",
    deps: { ...deps, "server.mjs": server('greet("kumo")', true) },
    depsSays: "custom kumo greeted",
    edited: { ...deps, "server.mjs": server('"v2 " + greet("kumo")', true) },
    editedSays: "v2 custom kumo greeted",
  };
}

export const SOURCES = {
  node: js("node"),
  bun: js("bun"),
  deno: js("deno"),
  python: python(),
  go: go(),
  container: container(),
} as const;
