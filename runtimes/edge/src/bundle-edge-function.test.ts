import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { KumoError } from "@kumo/core";
import { afterAll, describe, expect, it } from "vitest";
import { bundleEdgeFunction, packageOfPath } from "./bundle-edge-function.ts";

/** A node_modules tree on disk, as the gateway materializes a builder install. */
const dirs: string[] = [];
function nodeModules(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kumo-bundle-test-"));
  dirs.push(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, "node_modules", path)), { recursive: true });
    writeFileSync(join(dir, "node_modules", path), content);
  }
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("bundleEdgeFunction", () => {
  it("bundle - TypeScript with relative imports becomes one CommonJS script", async () => {
    const bundle = await bundleEdgeFunction({
      "index.ts": `import { greet } from "./lib/greet.ts"; import data from "./data.json";
        export default { fetch(): Response { return new Response(greet(data.name)); } };`,
      "lib/greet.ts": `export const greet = (name: string): string => \`hi \${name}\`;`,
      "data.json": `{"name":"kumo"}`,
    });
    expect(bundle.code).toContain("hi ");
    expect(bundle.code).toContain("module.exports");
    expect(bundle.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("bundle - a syntax error fails with FN_005 and the file, line and column", async () => {
    const error = await bundleEdgeFunction({
      "index.ts": "export default {\n  fetch() {\n    return new Response(;\n  }\n};\n",
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KumoError);
    const kumo = error as KumoError;
    expect(kumo.code).toBe("FN_005");
    expect(kumo.message).toMatch(/index\.ts:3:\d+/);
    expect(kumo.details).toMatchObject({ file: "index.ts", line: 3 });
  });

  it("bundle - bare npm imports are refused with FN_005", async () => {
    const error = (await bundleEdgeFunction({
      "index.js": `import x from "lodash"; export default x;`,
    }).catch((e) => e)) as KumoError;
    expect(error.code).toBe("FN_005");
    expect(error.message).toMatch(/lodash.*not supported/);
  });

  it("bundle - no entry file is FN_006; an explicit entry is honoured", async () => {
    const error = (await bundleEdgeFunction({ "lib.ts": "export const a = 1;" }).catch(
      (e) => e,
    )) as KumoError;
    expect(error.code).toBe("FN_006");
    const bundle = await bundleEdgeFunction({ "lib.ts": "export const a = 1;" }, { entry: "lib.ts" });
    expect(bundle.code).toContain("a");
  });

  it("bundle - bare imports resolve from node_modules with the worker condition and the browser field", async () => {
    const dir = nodeModules({
      "dual/package.json": JSON.stringify({
        name: "dual",
        exports: { ".": { node: "./node.js", worker: "./worker.js", default: "./node.js" } },
      }),
      "dual/node.js": `import fs from "fs"; export const where = "node" + typeof fs;`,
      "dual/worker.js": `export const where = "worker";`,
      "mapped/package.json": JSON.stringify({ name: "mapped", main: "index.js", browser: { fs: false } }),
      "mapped/index.js": `const fs = require("fs"); module.exports = { hasFs: !!fs && Object.keys(fs).length > 0 };`,
      "@scope/pkg/package.json": JSON.stringify({ name: "@scope/pkg", module: "esm.js" }),
      "@scope/pkg/esm.js": `export const scoped = 42;`,
      // An npm package named like a Node built-in (the browser "events" polyfill): installed, so used.
      "events/package.json": JSON.stringify({ name: "events", main: "events.js" }),
      "events/events.js": `module.exports = function EventEmitter() { this.polyfill = "npm-events"; };`,
    });
    const bundle = await bundleEdgeFunction(
      {
        "index.ts": `import { where } from "dual"; import mapped from "mapped"; import { scoped } from "@scope/pkg";
          import EventEmitter from "events";
          export default { fetch() { return new Response(where + mapped.hasFs + scoped + new EventEmitter().polyfill); } };`,
      },
      { nodeModulesDir: dir },
    );
    expect(bundle.code).toContain('"worker"');
    expect(bundle.code).not.toContain('"node"');
    expect(bundle.code).toContain("42");
    expect(bundle.code).toContain("npm-events");
  });

  it("bundle - a package needing a Node built-in fails with FN_005 naming the package and the module", async () => {
    const dir = nodeModules({
      "uses-fs/package.json": JSON.stringify({ name: "uses-fs", main: "index.js" }),
      "uses-fs/index.js": `const fs = require("node:fs"); const cp = require("child_process"); module.exports = fs.readFileSync;`,
      "@acme/net-thing/package.json": JSON.stringify({ name: "@acme/net-thing", main: "lib/index.js" }),
      "@acme/net-thing/lib/index.js": `export { connect } from "net";`,
    });
    const error = (await bundleEdgeFunction(
      {
        "index.js": `import read from "uses-fs"; import { connect } from "@acme/net-thing"; export default { read, connect };`,
      },
      { nodeModulesDir: dir },
    ).catch((e: unknown) => e)) as KumoError;
    expect(error).toBeInstanceOf(KumoError);
    expect(error.code).toBe("FN_005");
    expect(error.message).toContain('package "uses-fs" needs "node:fs", "child_process"');
    expect(error.message).toContain('package "@acme/net-thing" needs "net"');
    expect(error.details).toMatchObject({
      builtins: expect.arrayContaining([
        { package: "uses-fs", module: "node:fs", importer: "node_modules/uses-fs/index.js" },
      ]),
    });
  });

  it("bundle - the function's own import of a Node built-in names its file; a missing package says to add it", async () => {
    const own = (await bundleEdgeFunction({ "index.js": `import fs from "fs"; export default fs;` }).catch(
      (e: unknown) => e,
    )) as KumoError;
    expect(own.code).toBe("FN_005");
    expect(own.message).toContain('index.js needs "fs"');
    const dir = nodeModules({
      "present/package.json": JSON.stringify({ name: "present" }),
      "present/index.js": "",
    });
    const missing = (await bundleEdgeFunction(
      { "index.js": `import x from "absent"; export default x;` },
      { nodeModulesDir: dir },
    ).catch((e: unknown) => e)) as KumoError;
    expect(missing.code).toBe("FN_005");
    expect(missing.message).toMatch(/cannot find package "absent".*dependencies/);
  });

  it("bundle - a bundle over the size limit is FN_005 with its size, the limit and the largest packages", async () => {
    const dir = nodeModules({
      "big/package.json": JSON.stringify({ name: "big", main: "index.js" }),
      "big/index.js": `module.exports = ${JSON.stringify("x".repeat(300_000))};`,
    });
    const files = {
      "index.js": `import big from "big"; export default { fetch() { return new Response(big); } };`,
    };
    const error = (await bundleEdgeFunction(files, { nodeModulesDir: dir, maxBytes: 200_000 }).catch(
      (e: unknown) => e,
    )) as KumoError;
    expect(error.code).toBe("FN_005");
    expect(error.message).toMatch(
      /the bundle is 0\.3 MiB, over the 0\.2 MiB limit .*largest parts: big 0\.3 MiB/,
    );
    const fits = await bundleEdgeFunction(files, { nodeModulesDir: dir, maxBytes: 400_000 });
    expect(fits.code.length).toBeGreaterThan(300_000);
  });

  it("bundle - packageOfPath names the innermost package of a node_modules path", () => {
    expect(packageOfPath("node_modules/dayjs/plugin/utc.js")).toBe("dayjs");
    expect(packageOfPath("/x/node_modules/a/node_modules/@s/b/i.js")).toBe("@s/b");
    expect(packageOfPath("src/index.ts")).toBeUndefined();
  });
});
