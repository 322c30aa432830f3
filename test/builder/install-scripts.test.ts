import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeHarness } from "../runtimes/runtime-harness.ts";
import { type BuildKit, makeWheel, startBuildKit } from "./builder-kit.ts";

/**
 * The node build stage has a shell, so packages with install scripts build (npm runs them with
 * `sh -c`); the runtime image still has none. The package is a local one inside the upload
 * (`file:` dependency), so no registry is needed.
 */
let kit: BuildKit;
let harness: RuntimeHarness;

beforeAll(async () => {
  kit = await startBuildKit();
  harness = new RuntimeHarness();
}, 300_000);

afterAll(async () => {
  await harness?.cleanup();
  await kit?.close();
});

async function invoke(name: string, version: number | null): Promise<{ status: number; body: string }> {
  const res = await kit.tg.call("GET", `/v1/functions/${name}/versions/${version}`, { key: kit.tenant.key });
  expect(res.status).toBe(200);
  const fn = await harness.start(res.json.artifact);
  const out = await fn.request({ method: "GET", path: "/invoke/" });
  return { status: out.status, body: out.body.toString("utf8") };
}

describe("build stage shell", () => {
  it("builder - a local package's install and postinstall scripts run in the node build stage and what they write reaches the function", async () => {
    const done = await kit.deploy("with-install-script", "node", {
      "package.json": JSON.stringify({
        name: "with-install-script",
        version: "1.0.0",
        type: "module",
        dependencies: { "made-at-install": "file:vendor/made-at-install" },
      }),
      "vendor/made-at-install/package.json": JSON.stringify({
        name: "made-at-install",
        version: "1.0.0",
        main: "index.js",
        // Both through the shell: `install` chains two commands with &&, which needs sh, not just node.
        scripts: {
          install: "node write.js install && node write.js install-again",
          postinstall: "node write.js postinstall",
        },
      }),
      "vendor/made-at-install/write.js": [
        'const fs = require("node:fs");',
        'const file = require("node:path").join(__dirname, "generated.txt");',
        'fs.appendFileSync(file, process.argv[2] + " ran in " + process.env.npm_lifecycle_event + "\\n");',
      ].join("\n"),
      "vendor/made-at-install/index.js": [
        'const fs = require("node:fs");',
        'module.exports = () => fs.readFileSync(require("node:path").join(__dirname, "generated.txt"), "utf8");',
      ].join("\n"),
      "index.mjs": [
        'import generated from "made-at-install";',
        "export default { fetch() { return new Response(generated()); } };",
      ].join("\n"),
    });
    expect(done.error, done.log).toBeNull();
    expect(done.status).toBe("succeeded");
    const res = await invoke("with-install-script", done.version);
    expect(res.status).toBe(200);
    expect(res.body).toBe(
      "install ran in install\ninstall-again ran in install\npostinstall ran in postinstall\n",
    );
  }, 180_000);

  it("builder - a failing install script fails the deployment with FN_005 whose message ends with the script's own error", async () => {
    const done = await kit.deploy("with-failing-script", "node", {
      "package.json": JSON.stringify({
        name: "with-failing-script",
        version: "1.0.0",
        dependencies: { "native-thing": "file:./vendor/native-thing" },
      }),
      "vendor/native-thing/package.json": JSON.stringify({
        name: "native-thing",
        version: "1.0.0",
        scripts: { install: "node build.js" },
      }),
      "vendor/native-thing/build.js": 'throw new Error("no C compiler found (cc)");\n',
      "index.mjs": "export default { fetch() { return new Response('never'); } };\n",
    });
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("FN_005");
    // The builder's own message (before the log tail the gateway appends).
    const [message] = (done.error?.message ?? "").split("\n--- end of the build log ---");
    expect(message).toMatch(/^build failed: npm error path \/build\/[\w/]*native-thing; /);
    expect(message).toContain("npm error command sh -c node build.js");
    expect(message?.trimEnd()).toMatch(/Error: no C compiler found \(cc\)$/);
  }, 180_000);

  it("images - the node build stage has /bin/sh; the node runtime image has no shell", async () => {
    const { run } = await import("./builder-kit.ts");
    const { stdout } = await run("docker", [
      "run",
      "--rm",
      "--entrypoint",
      "/bin/sh",
      "kumo/build-node:latest",
      "-c",
      "echo shell:$0",
    ]);
    expect(stdout.trim()).toBe("shell:/bin/sh");
    const noShell = await run("docker", [
      "run",
      "--rm",
      "--entrypoint",
      "/bin/sh",
      "kumo/runtime-node:latest",
    ]).then(
      () => "ran",
      (error: { stderr?: string }) => error.stderr ?? "failed",
    );
    expect(noShell).not.toBe("ran");
    expect(noShell).toMatch(/no such file or directory|not found/i);
  }, 60_000);
});

describe("pyproject.toml", () => {
  const handler = {
    "main.py": [
      "def handler(event, context):",
      "    try:",
      "        import kumo_from_pyproject",
      "        return {'statusCode': 200, 'body': kumo_from_pyproject.SAYS}",
      "    except ImportError:",
      "        return {'statusCode': 200, 'body': 'no dependencies'}",
    ].join("\n"),
    "kumo.json": JSON.stringify({ runtime: "python", handler: "main.handler" }),
  };

  it("builder - a pyproject.toml with tool settings only installs nothing and the function runs", async () => {
    const done = await kit.deploy("pyproject-tools-only", "python", {
      ...handler,
      "pyproject.toml": '[tool.black]\nline-length = 100\n\n[tool.ruff]\nselect = ["E"]\n',
    });
    expect(done.error, done.log).toBeNull();
    expect(done.log).toContain("pyproject.toml declares no dependencies");
    expect((await invoke("pyproject-tools-only", done.version)).body).toBe("no dependencies");
  }, 180_000);

  it("builder - [project] dependencies are installed (not the project itself, which needs no build backend)", async () => {
    const wheel = makeWheel("kumo_from_pyproject", "1.0.0", {
      "kumo_from_pyproject/__init__.py": "SAYS = 'installed from pyproject'\n",
    });
    const done = await kit.deploy("pyproject-deps", "python", {
      ...handler,
      [`wheels/${wheel.path}`]: wheel.content,
      "pyproject.toml": [
        "[project]",
        'name = "my-function"',
        'version = "0.1.0"',
        `dependencies = ["kumo_from_pyproject @ file:///build/wheels/${wheel.path}"]`,
        "",
        "[build-system]",
        'requires = ["setuptools>=61"]',
        'build-backend = "setuptools.build_meta"',
      ].join("\n"),
    });
    expect(done.error, done.log).toBeNull();
    expect(done.log).toContain("installing pyproject.toml's dependencies");
    expect((await invoke("pyproject-deps", done.version)).body).toBe("installed from pyproject");
  }, 180_000);
});
