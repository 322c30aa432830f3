import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KumoError } from "@kumo/core";
import { packSourceArchive, readSourceArchive } from "@kumo/source";
import { afterAll, describe, expect, it } from "vitest";
import { EdgeDependencies, type EdgeDependencyInstaller, edgeDependencySet } from "./edge-dependencies.ts";

const source = (files: Record<string, string>) =>
  new Map(Object.entries(files).map(([path, content]) => [path, Buffer.from(content)]));
const pkg = (fields: Record<string, unknown>) => JSON.stringify({ name: "fn", version: "1.0.0", ...fields });

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("edge dependency sets", () => {
  it("edge deps - no package.json, or one without dependencies, installs nothing", () => {
    expect(edgeDependencySet(source({ "index.ts": "" }))).toBeUndefined();
    expect(
      edgeDependencySet(source({ "package.json": pkg({ devDependencies: { typescript: "5.0.0" } }) })),
    ).toBeUndefined();
    expect(edgeDependencySet(source({ "package.json": pkg({ dependencies: {} }) }))).toBeUndefined();
  });

  it("edge deps - the key ignores code, version and scripts, and follows dependencies, lockfile and .npmrc", () => {
    const base = { "package.json": pkg({ dependencies: { nanoid: "5.0.9" } }), "index.ts": "a" };
    const key = (files: Record<string, string>) => edgeDependencySet(source(files))?.key;
    const first = key(base);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(key({ ...base, "index.ts": "b" })).toBe(first);
    expect(
      key({
        ...base,
        "package.json": pkg({ version: "2.0.0", scripts: { t: "x" }, dependencies: { nanoid: "5.0.9" } }),
      }),
    ).toBe(first);
    expect(key({ ...base, "package.json": pkg({ dependencies: { nanoid: "5.1.0" } }) })).not.toBe(first);
    expect(key({ ...base, "package-lock.json": "{}" })).not.toBe(first);
    expect(key({ ...base, ".npmrc": "registry=https://example.invalid/" })).not.toBe(first);
    // Without a lockfile dev dependencies are not installed, so they do not count; with one npm ci wants them.
    const dev = { dependencies: { nanoid: "5.0.9" }, devDependencies: { vitest: "1.0.0" } };
    expect(key({ ...base, "package.json": pkg(dev) })).toBe(first);
    const locked = edgeDependencySet(source({ "package.json": pkg(dev), "package-lock.json": "{}" }));
    expect(JSON.parse(String(locked?.manifests.get("package.json")))).toEqual({ name: "fn", ...dev });
    expect(locked?.lockfile).toBe("package-lock.json");
    expect(locked?.count).toBe(1);
  });

  it("edge deps - a package.json that is not JSON, or has a non-object dependencies field, is FN_006", () => {
    const bad = (text: string) => {
      try {
        edgeDependencySet(source({ "package.json": text }));
      } catch (error) {
        return error as KumoError;
      }
      throw new Error("accepted");
    };
    expect(bad("{ nope").code).toBe("FN_006");
    expect(bad("{ nope").message).toMatch(/package\.json is not valid JSON/);
    expect(bad(pkg({ dependencies: ["nanoid"] })).message).toMatch(/"dependencies" must be an object/);
  });
});

describe("edge dependency cache", () => {
  it("edge deps - the builder is asked once per set; later deploys and concurrent ones use the gateway's copy", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "kumo-edge-deps-test-"));
    dirs.push(cacheDir);
    const calls: { cachedOnly: boolean; manifests: string[] }[] = [];
    // A fake builder: the gateway side is under test here; the real one is in test/builder/.
    const installer: EdgeDependencyInstaller = {
      async installEdgeDependencies(request) {
        const manifests = await readSourceArchive(request.manifestsTar);
        calls.push({ cachedOnly: request.cachedOnly, manifests: [...manifests.keys()].sort() });
        const tar = await packSourceArchive(source({ "node_modules/tiny/index.js": "module.exports = 1;" }));
        return { result: { cached: false, files: 1, bytes: 19 }, tar };
      },
    };
    const deps = new EdgeDependencies({ cacheDir, installer });
    const set = edgeDependencySet(
      source({
        "package.json": pkg({ dependencies: { tiny: "1.0.0" } }),
        "package-lock.json": "{}",
        "index.ts": "",
      }),
    );
    if (!set) throw new Error("expected a dependency set");
    const options = { functionName: "f", deploymentId: "d", install: true };
    const [a, b] = await Promise.all([
      deps.nodeModules("ten_a", set, options),
      deps.nodeModules("ten_a", set, options),
    ]);
    expect(a.source).toBe("installed");
    expect(b).toEqual(a);
    expect(readFileSync(join(a.dir, "node_modules/tiny/index.js"), "utf8")).toBe("module.exports = 1;");
    expect(calls).toEqual([{ cachedOnly: false, manifests: ["package-lock.json", "package.json"] }]);
    expect(await deps.nodeModules("ten_a", set, options)).toEqual({ dir: a.dir, source: "gateway cache" });
    // Another tenant never shares a directory; a draft (install: false) asks for a cached install only.
    const other = await deps.nodeModules("ten_b", set, { ...options, install: false });
    expect(other.dir).not.toBe(a.dir);
    expect(calls.at(-1)?.cachedOnly).toBe(true);
  });

  it("edge deps - without a builder a set that is not cached is FN_006 naming the setting", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "kumo-edge-deps-test-"));
    dirs.push(cacheDir);
    const set = edgeDependencySet(source({ "package.json": pkg({ dependencies: { tiny: "1.0.0" } }) }));
    if (!set) throw new Error("expected a dependency set");
    const error = await new EdgeDependencies({ cacheDir })
      .nodeModules("ten_a", set, { functionName: "f", deploymentId: "d", install: true })
      .catch((e: unknown) => e as KumoError);
    expect(error).toBeInstanceOf(KumoError);
    expect((error as KumoError).code).toBe("FN_006");
    expect((error as KumoError).message).toMatch(/KUMO_BUILDER_URL/);
  });
});
