import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuildKit, startBuildKit } from "./builder-kit.ts";
import { SOURCES } from "./sources.ts";

/**
 * Dependency installs with the builder's default settings on this machine, whose outbound TLS goes
 * through an intercepting proxy trusted only by the host's CA bundle (the npm registry is reachable
 * only through it). The kit sets no CA setting, as a default install does not.
 */
let kit: BuildKit;

beforeAll(async () => {
  kit = await startBuildKit();
}, 300_000);

afterAll(async () => {
  await kit?.close();
});

describe("dependency installs", () => {
  it("builder - a node function depending on an npm package builds with the default CA settings", async () => {
    // The quickstart: `npm install ms` in a node function (package.json, no lockfile), deploy.
    const done = await kit.deploy("with-ms", "node", SOURCES.node.deps);
    expect(done.error, done.log).toBeNull();
    expect(done.status).toBe("succeeded");
    expect(done.log).toMatch(/added 1 package/);
  }, 120_000);

  it("builder - a dependency that does not exist fails fast with FN_005 naming npm's own error", async () => {
    const started = Date.now();
    const done = await kit.deploy("with-nothing", "node", {
      "package.json": JSON.stringify({
        name: "with-nothing",
        version: "1.0.0",
        dependencies: { "kumo-test-no-such-package-9f3c1e": "1.0.0" },
      }),
      "index.mjs": "export default { fetch() { return new Response('never'); } };\n",
    });
    const elapsed = Date.now() - started;
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("FN_005");
    // The builder's own message (before the log tail the gateway appends) carries npm's error line.
    const [message] = (done.error?.message ?? "").split("\n--- end of the build log ---");
    expect(message).toMatch(/^build failed: npm error code E404\b/);
    expect(message).toContain("kumo-test-no-such-package-9f3c1e");
    expect(message).not.toContain("\u001b");
    expect(elapsed).toBeLessThan(30_000);
  }, 120_000);
});
