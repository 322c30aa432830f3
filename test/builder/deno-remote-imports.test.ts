import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuildKit, run, startBuildKitWithNode } from "./builder-kit.ts";

/**
 * Deno functions importing `jsr:`, `http(s):` and `npm:` modules: the build vendors them, and the
 * function runs with no network (the autoscaler's containers have none), from a stem cell or cold.
 * No public registry is reachable here, so a small JSR registry (JSR's documented package and
 * version metadata files) and a plain module host run in this test, on the Docker bridge's gateway
 * address where the build's containers reach the host; the builder points deno at it with
 * KUMO_BUILD_JSR_URL. npm: goes to the real npm registry, as the other dependency tests do.
 */
const GREET = `import { shout } from "./shout.ts";\nexport function greet(name: string): string { return shout("hello " + name); }\n`;
const SHOUT = "export const shout = (s: string): string => s.toUpperCase();\n";
const ANSWER = "export const answer: number = 42;\n";

const sha = (text: string) => `sha256-${createHash("sha256").update(text).digest("hex")}`;

let server: Server;
let origin: string;
const served: string[] = [];
let node: Awaited<ReturnType<typeof startBuildKitWithNode>> | undefined;
let kit: BuildKit;

function startRegistry(host: string): Promise<Server> {
  const routes: Record<string, [string, string]> = {
    "/@kumo/greet/meta.json": [
      "application/json",
      JSON.stringify({ scope: "kumo", name: "greet", latest: "1.2.0", versions: { "1.2.0": {} } }),
    ],
    "/@kumo/greet/1.2.0_meta.json": [
      "application/json",
      JSON.stringify({
        manifest: {
          "/mod.ts": { size: GREET.length, checksum: sha(GREET) },
          "/shout.ts": { size: SHOUT.length, checksum: sha(SHOUT) },
        },
        exports: { ".": "./mod.ts" },
      }),
    ],
    "/@kumo/greet/1.2.0/mod.ts": ["application/typescript", GREET],
    "/@kumo/greet/1.2.0/shout.ts": ["application/typescript", SHOUT],
    "/lib/answer.ts": ["application/typescript", ANSWER],
  };
  const s = createServer((req, res) => {
    served.push(req.url ?? "");
    const route = routes[req.url ?? ""];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": route[0] }).end(route[1]);
  });
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, host, () => resolve(s));
  });
}

/** The ids of this test's autoscaler's stem cells. */
async function stemCells(): Promise<string[]> {
  const { stdout } = await run("docker", [
    "ps",
    "-q",
    "--filter",
    "label=dev.kumo.role=stem-cell",
    "--filter",
    `label=dev.kumo.node=${node?.nodeId}`,
  ]);
  return stdout.split("\n").filter(Boolean).sort();
}

beforeAll(async () => {
  // The default bridge's gateway: the host as the build's containers see it (docker0).
  const { stdout } = await run("docker", [
    "network",
    "inspect",
    "bridge",
    "--format",
    '{{index .Options "com.docker.network.bridge.name"}}',
  ]);
  // (Node lists only interfaces that are up; the bridge is down while no container is attached.)
  const device = stdout.trim() || "docker0";
  const shown = await run("ip", ["-4", "-o", "addr", "show", "dev", device]);
  const bridge = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(shown.stdout)?.[1];
  if (!bridge) throw new Error(`no IPv4 address on the Docker bridge ${device}: ${shown.stdout}`);
  server = await startRegistry(bridge);
  origin = `http://${bridge}:${(server.address() as AddressInfo).port}`;
  node = await startBuildKitWithNode("deno-remote", ["deno"], {
    builderEnv: { KUMO_BUILD_JSR_URL: `${origin}/` },
    autoscalerEnv: { KUMO_STEM_CELLS: "deno:1" },
  });
  kit = node.kit;
}, 300_000);

afterAll(async () => {
  await node?.close();
  if (server?.listening) await new Promise((resolve) => server.close(resolve));
});

describe("deno remote imports", () => {
  it("deno remote imports - jsr:, http: and npm: imports are vendored at build and load offline", async () => {
    const deployed = await kit.deploy("remote", "deno", {
      "main.ts": [
        'import { greet } from "jsr:@kumo/greet@^1";',
        `import { answer } from "${origin}/lib/answer.ts";`,
        'import ms from "npm:ms@2.1.3";',
        "export default {",
        "  fetch: (request: Request) => Response.json({ greeting: greet(new URL(request.url).searchParams.get('name') ?? 'x'), answer, minute: ms('1m') }),",
        "};",
      ].join("\n"),
      "kumo.json": JSON.stringify({ runtime: "deno", handler: "main.ts" }),
    });
    expect(deployed.status, deployed.log).toBe("succeeded");
    expect(deployed.log).toMatch(/deno install --vendor \(remote imports of 1 file, fetched at build\)/);
    expect(deployed.log).toMatch(/load check: the handler loaded/);
    // The registry served the package's metadata, both of its files, and the plain module.
    expect(served).toEqual(
      expect.arrayContaining([
        "/@kumo/greet/meta.json",
        "/@kumo/greet/1.2.0/mod.ts",
        "/@kumo/greet/1.2.0/shout.ts",
        "/lib/answer.ts",
      ]),
    );

    // Nothing is fetched at run time: the registry is gone, and the container has no network anyway.
    await new Promise((resolve) => server.close(resolve));
    served.length = 0;
    const cellsBefore = await stemCells();
    expect(cellsBefore).toHaveLength(1);
    const res = await kit.tg.call("GET", `/fn/${kit.tenant.name}/remote/?name=kumo`);
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ greeting: "HELLO KUMO", answer: 42, minute: 60_000 });
    // Deno finds vendor/ from the directory it starts in, so this version starts cold from its own
    // image, not in a stem cell (whose working directory is not the code's).
    expect(res.headers["kumo-cold-start"]).toBe("cold");
    expect(served).toEqual([]);
    // No stem cell was spent on a specialization bound to fail: the same cell is still waiting. (The
    // pool may have started another one besides, for the demand this cold start showed.)
    expect(await stemCells()).toEqual(expect.arrayContaining(cellsBefore));
  });

  it("deno remote imports - a deno function without remote imports still starts in a stem cell", async () => {
    const deployed = await kit.deploy("local", "deno", {
      "main.ts": "export default { fetch: () => new Response('local ok') };",
      "kumo.json": JSON.stringify({ runtime: "deno", handler: "main.ts" }),
    });
    expect(deployed.status, deployed.log).toBe("succeeded");
    expect(deployed.log).not.toMatch(/--vendor/);
    // The autoscaler keeps one deno stem cell; the remote version above took it and gave it back.
    let res = await kit.tg.call("GET", `/fn/${kit.tenant.name}/local/`);
    expect(res.status, res.body).toBe(200);
    expect(res.body).toBe("local ok");
    expect(res.headers["kumo-cold-start"]).toBe("stem-cell");
    res = await kit.tg.call("GET", `/fn/${kit.tenant.name}/local/`);
    expect(res.body).toBe("local ok");
  });
});
