import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeHarness } from "../runtimes/runtime-harness.ts";
import { type BuildKit, makeWheel, startBuildKit } from "./builder-kit.ts";

/**
 * Pinned runtime versions: `runtime` takes node20/node22/node24 and python3.11/python3.13 besides the
 * plain family (its default version). Each version is its own recipe image, built by the builder the
 * first time a function uses it (the kit's builder builds images from this checkout on demand).
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

async function invoke(name: string, version: number | null): Promise<string> {
  const res = await kit.tg.call("GET", `/v1/functions/${name}/versions/${version}`, { key: kit.tenant.key });
  expect(res.status).toBe(200);
  const fn = await harness.start(res.json.artifact);
  const out = await fn.request({ method: "GET", path: "/invoke/" });
  expect(out.status, out.body.toString()).toBe(200);
  return out.body.toString("utf8");
}

const versionFunction = {
  "index.ts": [
    "const runtime: string = process.version;",
    "export default { fetch: (): Response => new Response(runtime) };",
  ].join("\n"),
};

describe("runtime versions", () => {
  it("node22 - the function runs on Node 22 and the API shows the pinned runtime", async () => {
    const done = await kit.deploy("on-node22", "node22", versionFunction);
    expect(done.error, done.log).toBeNull();
    expect(done.log).toContain("runtime node22:");
    expect(await invoke("on-node22", done.version)).toMatch(/^v22\.\d+\.\d+$/);
    const fn = await kit.tg.call("GET", "/v1/functions/on-node22", { key: kit.tenant.key });
    expect([fn.json.runtime, fn.json.config.runtime]).toEqual(["node22", "node22"]);
    const version = await kit.tg.call("GET", `/v1/functions/on-node22/versions/${done.version}`, {
      key: kit.tenant.key,
    });
    expect(version.json.runtime).toBe("node22");
    // Searching by the family finds the pinned versions too.
    const found = await kit.tg.call("GET", "/v1/functions?q=node", { key: kit.tenant.key });
    expect(found.json.items.map((f: { name: string }) => f.name)).toContain("on-node22");
  }, 300_000);

  it("node - the plain family is the default version (Node 24)", async () => {
    const done = await kit.deploy("on-node", "node", versionFunction);
    expect(done.error, done.log).toBeNull();
    expect(await invoke("on-node", done.version)).toMatch(/^v24\./);
  }, 180_000);

  it("python3.13 - the function and its pip install run on Python 3.13", async () => {
    const wheel = makeWheel("kumo_pinned", "1.0.0", {
      "kumo_pinned/__init__.py": "import sys\nVERSION = '%d.%d' % sys.version_info[:2]\n",
    });
    const done = await kit.deploy("on-python313", "python3.13", {
      "requirements.txt": `./wheels/${wheel.path}\n`,
      [`wheels/${wheel.path}`]: wheel.content,
      "main.py": [
        "import sys",
        "import kumo_pinned",
        "def handler(event, context):",
        "    return {'statusCode': 200, 'body': 'python %s, installed for %s' % (sys.version.split()[0], kumo_pinned.VERSION)}",
      ].join("\n"),
      "kumo.json": JSON.stringify({ runtime: "python3.13", handler: "main.handler" }),
    });
    expect(done.error, done.log).toBeNull();
    expect(await invoke("on-python313", done.version)).toMatch(/^python 3\.13\.\d+, installed for 3\.13$/);
  }, 300_000);

  it("python - the plain family is Python 3.11", async () => {
    const done = await kit.deploy("on-python", "python", {
      "main.py":
        "import sys\ndef handler(event, context):\n    return {'statusCode': 200, 'body': sys.version.split()[0]}\n",
      "kumo.json": JSON.stringify({ runtime: "python", handler: "main.handler" }),
    });
    expect(done.error, done.log).toBeNull();
    expect(await invoke("on-python", done.version)).toMatch(/^3\.11\.\d+$/);
  }, 180_000);

  it("unknown versions - refused with FN_006 listing the accepted runtimes, at create and in kumo.json", async () => {
    const created = await kit.tg.call("POST", "/v1/functions", {
      key: kit.tenant.key,
      body: { name: "on-node18", runtime: "node18" },
    });
    expect(created.status).toBe(400);
    expect(created.json.error.code).toBe("FN_006");
    expect(created.json.error.message).toContain('unknown runtime "node18"');
    expect(created.json.error.message).toContain("node20, node22, node24, python3.11, python3.13");
    const done = await kit
      .deploy("kumo-json-version", "node", {
        ...versionFunction,
        "kumo.json": JSON.stringify({ runtime: "python3.9" }),
      })
      .catch((error: Error) => error);
    expect(String(done instanceof Error ? done.message : JSON.stringify(done))).toMatch(
      /FN_006[\s\S]*unknown runtime \\?"python3\.9\\?"/,
    );
  }, 60_000);
});
