import { describe, expect, it } from "vitest";
import { localRequirementPaths, planBuild, planEdgeDependencies } from "./build-plan.ts";

const files = (paths: Record<string, string>) =>
  new Map(Object.entries(paths).map(([p, c]) => [p, Buffer.from(c)]));
const base = {
  handler: "",
  images: { run: "kumo/runtime-node:abc", build: "kumo/build-node:def" },
  labels: {},
  imageLabels: {},
};

describe("build plan", () => {
  it("build plan - node installs from the lockfile layer before the code is copied", () => {
    const plan = planBuild({
      ...base,
      runtime: "node",
      withCa: true,
      files: files({ "package.json": "{}", "package-lock.json": "{}", "index.js": "" }),
    });
    const lines = plan.dockerfile.split("\n");
    const install = lines.findIndex((l) => l.includes('"ci"'));
    const manifests = lines.findIndex((l) => l.includes("src/package-lock.json"));
    const code = lines.findIndex((l) => l.startsWith('COPY ["src/", "/var/task/"]'));
    expect(manifests).toBeGreaterThan(-1);
    expect(install).toBeGreaterThan(manifests);
    expect(code).toBeGreaterThan(install);
    // The CA bundle is only in the build stage: the final stage starts FROM the runtime image after it.
    const finalFrom = lines.indexOf("FROM kumo/runtime-node:abc");
    expect(lines.findIndex((l) => l.includes("ca.pem"))).toBeLessThan(finalFrom);
    expect(lines.slice(finalFrom).join("\n")).not.toContain("ca.pem");
  });

  it("build plan - python copies only requirements and the local paths they name into the dependency layer", () => {
    expect(
      localRequirementPaths("./wheels/a-1.0-py3-none-any.whl\nrequests==2.0\nfile:vendor/lib\n"),
    ).toEqual(["wheels/a-1.0-py3-none-any.whl", "vendor/lib"]);
    expect(localRequirementPaths("-r other.txt\n")).toBeUndefined();
    expect(localRequirementPaths("./../escape.whl\n")).toBeUndefined();
  });

  it("build plan - an edge dependency install is the node dependency stage with install scripts off", () => {
    const input = {
      images: base.images,
      withCa: true,
      labels: { "dev.kumo.build": "1" },
      imageLabels: { "dev.kumo.function": "f" },
    };
    const locked = planEdgeDependencies({
      ...input,
      files: files({ "package.json": "{}", "package-lock.json": "{}" }),
    });
    const lines = locked.dockerfile.split("\n");
    expect(lines[0]).toBe("FROM kumo/build-node:def AS deps");
    expect(lines).toContain('COPY ["src/package.json","src/package-lock.json","/build/"]');
    const run = lines.find((l) => l.startsWith("RUN ")) ?? "";
    expect(JSON.parse(run.slice(4))).toEqual([
      "/usr/local/bin/node",
      "/opt/kumo/npm/bin/npm-cli.js",
      "ci",
      "--omit=dev",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
    ]);
    expect(locked.dockerfile).toContain("NODE_EXTRA_CA_CERTS=/kumo-build/ca.pem");
    expect(lines.filter((l) => l.startsWith("FROM "))).toHaveLength(1);
    const unlocked = planEdgeDependencies({ ...input, files: files({ "package.json": "{}" }) });
    expect(unlocked.dockerfile).toContain('"install"');
    expect(unlocked.summary).toMatch(/no lockfile.*install scripts off/);
  });

  it("build plan - a node function's file: packages go into the dependency stage, installed as copies", () => {
    const plan = planBuild({
      ...base,
      runtime: "node",
      withCa: false,
      files: files({
        "package.json": JSON.stringify({
          dependencies: { a: "file:vendor/a", b: "file:./vendor/b/", c: "file:../outside", d: "^1.0.0" },
          devDependencies: { e: "file:missing" },
        }),
        "vendor/a/package.json": "{}",
        "vendor/b/index.js": "",
        "index.js": "",
      }),
    });
    const lines = plan.dockerfile.split("\n");
    const install = lines.findIndex((l) => l.startsWith("RUN "));
    expect(lines.indexOf('COPY ["src/vendor/a","/build/vendor/a"]')).toBeGreaterThan(-1);
    expect(lines.indexOf('COPY ["src/vendor/b","/build/vendor/b"]')).toBeLessThan(install);
    expect(plan.dockerfile).not.toContain("outside");
    expect(plan.dockerfile).not.toContain("missing");
    expect(plan.dockerfile).toContain("npm_config_install_links=true");
  });

  it("build plan - pyproject.toml installs its [project] dependencies with the runtime's interpreter", () => {
    const plan = planBuild({
      ...base,
      images: {
        run: "kumo/runtime-python3.13:abc",
        build: "kumo/build-python3.13:def",
        python: "/usr/bin/python3.13",
      },
      runtime: "python",
      withCa: false,
      files: files({ "pyproject.toml": "[tool.black]\n", "main.py": "" }),
    });
    const run = plan.dockerfile.split("\n").find((l) => l.startsWith("RUN ")) ?? "";
    const [python, flag, program] = JSON.parse(run.slice("RUN ".length)) as string[];
    expect([python, flag]).toEqual(["/usr/bin/python3.13", "-c"]);
    expect(program).toContain("tomllib");
    expect(program).toContain('"-m", "pip", "install", "--target", "/build/.deps"');
    expect(plan.dockerfile).not.toContain('"."');
  });
});

describe("build plan - deno remote imports", () => {
  const deno = { ...base, runtime: "deno" as const, withCa: false, handler: "main.ts" };

  it("build plan - deno vendors jsr:, https: and npm: imports of every code file at build", () => {
    const plan = planBuild({
      ...deno,
      jsrUrl: "http://172.17.0.1:4250/",
      files: files({
        "main.ts": 'import { greet } from "jsr:@kumo/greet@^1";\nimport "./lib/util.ts";',
        "lib/util.ts": "export const x = 1;",
        "README.md": "see https://example.com",
        "node_modules/x/index.js": 'import "https://nope.example/x.js";',
      }),
    });
    const lines = plan.dockerfile.split("\n");
    expect(lines).toContain(
      'RUN ["/usr/local/bin/deno","install","--vendor","--allow-import","--entrypoint","lib/util.ts","main.ts"]',
    );
    // Without manifests there is nothing for a plain `deno install` to do.
    expect(lines.filter((l) => l.startsWith("RUN"))).toHaveLength(1);
    expect(lines).toContain("COPY --from=deps /build/vendor /var/task/vendor");
    // The function image resolves jsr: through the registry it was vendored from.
    const finalFrom = lines.lastIndexOf("FROM kumo/runtime-node:abc");
    expect(lines.slice(finalFrom)).toContain('ENV JSR_URL="http://172.17.0.1:4250/"');
    expect(plan.summary).toMatch(/deno install --vendor \(remote imports of 2 files, fetched at build\)/);
  });

  it("build plan - a deno.json import map naming jsr: vendors too, after the manifests' install", () => {
    const plan = planBuild({
      ...deno,
      files: files({
        "deno.json": '{ "imports": { "@std/assert": "jsr:@std/assert@^1" } }',
        "main.ts": 'import { assert } from "@std/assert";',
      }),
    });
    const runs = plan.dockerfile.split("\n").filter((l) => l.startsWith("RUN"));
    expect(runs).toEqual([
      'RUN ["/usr/local/bin/deno","install"]',
      'RUN ["/usr/local/bin/deno","install","--vendor","--allow-import","--entrypoint","main.ts"]',
    ]);
    expect(plan.dockerfile).not.toContain("JSR_URL");
  });

  it("build plan - deno without remote imports keeps the manifest-only dependency layer", () => {
    const local = planBuild({
      ...deno,
      files: files({ "package.json": "{}", "main.ts": 'import ms from "ms"; // see https://jsr.io' }),
    });
    expect(local.dockerfile).not.toContain("--vendor");
    expect(local.dockerfile).toContain('COPY ["src/package.json","/build/"]');
    const codeOnly = planBuild({ ...deno, files: files({ "main.ts": "export default {}" }) });
    expect(codeOnly.summary).toBe("no package.json: code only");
  });
});
