import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { functionConfigSchema, RUNTIMES } from "@kumo/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CliError } from "../../packages/cli/src/errors.ts";
import { templateFor } from "../../packages/cli/src/init-templates.ts";
import { parseProjectConfig } from "../../packages/cli/src/project-config.ts";
import { runKumo } from "./support/run-kumo.ts";

function configError(text: string): CliError {
  try {
    parseProjectConfig(text, "kumo.json");
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return error as CliError;
  }
  throw new Error("expected kumo.json to be rejected");
}

describe("kumo.json - local validation", () => {
  it("accepts a minimal config and applies the schema's defaults", () => {
    const project = parseProjectConfig('{"runtime":"edge","timeoutMs":"5s"}', "kumo.json");
    expect(project.config.timeoutMs).toBe(5000);
    expect(project.config.memoryMb).toBe(128);
    expect(project.raw).toEqual({ runtime: "edge", timeoutMs: "5s" });
  });

  it("names every problem with its field", () => {
    const error = configError('{"runtime":"cobol","memoryMb":1,"colour":"blue"}');
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe("FN_006");
    expect(error.message).toBe("invalid kumo.json (3 problems)");
    const problems = (error.details as { problems: { field: string }[] }).problems.map((p) => p.field).sort();
    expect(problems).toEqual(["(body)", "memoryMb", "runtime"]);
  });

  it("reports JSON syntax errors and non-objects", () => {
    expect(configError('{"runtime": "edge",}').message).toMatch(/^kumo\.json is not valid JSON: /);
    expect(configError("[]").message).toBe("kumo.json must hold a JSON object");
  });
});

describe("kumo init - templates", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "kumo-init-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(RUNTIMES)("writes a valid kumo.json and a handler for %s", (runtime) => {
    const files = templateFor("hello", runtime);
    const config = functionConfigSchema.parse(JSON.parse(files["kumo.json"] ?? ""));
    expect(config.runtime).toBe(runtime);
    expect(config.name).toBe("hello");
    if (config.handler) expect(Object.keys(files)).toContain(config.handler);
  });

  it("uses the handler shape of each runtime", () => {
    expect(templateFor("a", "edge")["index.js"]).toContain("async fetch(request, env, ctx)");
    expect(templateFor("a", "deno")["main.ts"]).toContain("new URL(request.url)");
    expect(templateFor("a", "python")["main.py"]).toContain("def handler(event, context):");
    expect(templateFor("a", "go")["function.go"]).toMatch(
      /package function[\s\S]*func Handle\(w http\.ResponseWriter, r \*http\.Request\)/,
    );
    expect(templateFor("a", "go")["go.mod"]).toContain("module a");
    expect(templateFor("a", "container").Dockerfile).toMatch(/FROM \$\{BASE_IMAGE\}/);
    expect(templateFor("a", "container")["server.py"]).toContain('os.environ.get("PORT"');
    // The server listens on a TCP port: kumo.json names it, so the platform's port bridge forwards to it.
    expect(JSON.parse(templateFor("a", "container")["kumo.json"] ?? "{}")).toMatchObject({ port: 8080 });
  });

  it("creates the directory, refuses to overwrite without --force", async () => {
    const first = await runKumo(["init", "hello", "--runtime", "node"], { cwd: dir });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Created node function "hello" in hello');
    expect((await readdir(join(dir, "hello"))).sort()).toEqual([
      ".gitignore",
      ".kumoignore",
      "index.js",
      "kumo.json",
      "package.json",
    ]);

    const again = await runKumo(["init", "hello", "--runtime", "node"], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("pass --force to overwrite");

    await writeFile(join(dir, "hello", "index.js"), "changed");
    const forced = await runKumo(["init", "hello", "-r", "node", "--force", "--json"], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ name: "hello", runtime: "node" });
    expect(await readFile(join(dir, "hello", "index.js"), "utf8")).toContain("export default");
    // A git push deploys the commit: installed packages and local secrets stay out of it.
    expect(await readFile(join(dir, "hello", ".gitignore"), "utf8")).toMatch(/^node_modules\/$/m);
  });

  it("writes a pinned runtime version into kumo.json with its family's files", async () => {
    const res = await runKumo(["init", "api22", "--runtime", "node22"], { cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(dir, "api22", "kumo.json"), "utf8"))).toMatchObject({
      runtime: "node22",
      handler: "index.js",
    });
    expect(await readFile(join(dir, "api22", "package.json"), "utf8")).toContain('"type": "module"');
    const py = await runKumo(["init", "py13", "-r", "python3.13"], { cwd: dir });
    expect(py.code, py.stderr).toBe(0);
    expect(await readFile(join(dir, "py13", "main.py"), "utf8")).toContain("def handler(event, context)");
  });

  it("rejects bad names and runtimes with exit 2", async () => {
    const badRuntime = await runKumo(["init", "hello", "--runtime", "cobol"], { cwd: dir });
    expect(badRuntime.code).toBe(2);
    expect(badRuntime.stderr).toContain(
      'unknown runtime "cobol": expected one of edge, node, bun, deno, python, go, container, node20, node22, node24, python3.11, python3.13',
    );
    const badName = await runKumo(["init", "Hello_World", "--runtime", "edge"], { cwd: dir });
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('invalid function name "Hello_World"');
    const noRuntime = await runKumo(["init", "hello"], { cwd: dir });
    expect(noRuntime.code).toBe(2);
    expect(noRuntime.stderr).toContain("missing --runtime");
  });
});
