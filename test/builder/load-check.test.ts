import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuildKit, startBuildKitWithNode } from "./builder-kit.ts";

/**
 * The builder's deploy-time load check: a container function whose module does not load fails its
 * deployment with FN_005 and the loader's own error (not a timeout at the first call), and a thrown
 * error reaches a public caller as the `{ error }` envelope without its stack.
 */
let kit: BuildKit;

let node: Awaited<ReturnType<typeof startBuildKitWithNode>> | undefined;

beforeAll(async () => {
  node = await startBuildKitWithNode("load-check", ["node", "python"]);
  kit = node.kit;
}, 300_000);

afterAll(async () => {
  await node?.close();
});

describe("deploy-time load check", () => {
  it("load check - a node module that throws at import fails the deploy with FN_005 and its error; the function's env is given", async () => {
    const module = [
      'if (process.env.MODE !== "on") throw new Error("MODE is " + process.env.MODE + ", cannot start");',
      'export default { fetch() { return new Response("on"); } };',
      "",
    ].join("\n");
    const d = await kit.deploy("throws-at-import", "node", { "index.mjs": module });
    expect(d.status, JSON.stringify(d)).toBe("failed");
    expect(d.error?.code).toBe("FN_005");
    expect(d.error?.message).toContain("MODE is undefined, cannot start");
    expect(d.log).toContain("MODE is undefined, cannot start");
    const alias = await kit.tg.call("GET", "/v1/functions/throws-at-import/aliases", { key: kit.tenant.key });
    expect(alias.json.items[0]?.routing ?? []).toEqual([]);

    // Instances get the function's env (kumo.json "env"), so the check does too.
    const withEnv = await kit.deploy("throws-at-import", "node", {
      "index.mjs": module,
      "kumo.json": JSON.stringify({ runtime: "node", env: { MODE: "on" } }),
    });
    expect(withEnv.status, JSON.stringify(withEnv)).toBe("succeeded");
  }, 120_000);

  it("load check - a node module with no handler the shim accepts, or one that exits, fails with FN_005 saying why", async () => {
    const d = await kit.deploy("no-handler", "node", { "index.mjs": "export const notAHandler = 42;\n" });
    expect(d.status, JSON.stringify(d)).toBe("failed");
    expect(d.error?.code).toBe("FN_005");
    expect(d.error?.message).toMatch(/export default \{ fetch \}|fetch/);
    expect(d.error?.message).toMatch(/handler\(event, context\)|Lambda/);

    const exits = await kit.deploy("exits-at-import", "node", {
      "index.mjs": 'console.error("no config file");\nprocess.exit(3);\nexport default { fetch() {} };\n',
    });
    expect(exits.status, JSON.stringify(exits)).toBe("failed");
    expect(exits.error?.code).toBe("FN_005");
    expect(exits.error?.message).toMatch(/exited with code 3 while loading: .*no config file/);
  }, 120_000);

  it("load check - a python function with a syntax error fails with FN_005 and the parser's error", async () => {
    const d = await kit.deploy("py-syntax", "python", {
      "main.py": "def handler(event, context:\n    return 1\n",
    });
    expect(d.status, JSON.stringify(d)).toBe("failed");
    expect(d.error?.code).toBe("FN_005");
    expect(d.error?.message).toMatch(/SyntaxError/);
    expect(d.error?.message).toContain("main.py");
  }, 120_000);

  it("load check - a good function deploys and answers; a thrown error reaches /fn as the envelope without its stack", async () => {
    const good = {
      "index.mjs": [
        "export default {",
        "  async fetch(request) {",
        '    if (new URL(request.url).pathname.endsWith("/boom")) throw new Error("kaboom in handler");',
        '    return new Response("loaded fine");',
        "  },",
        "};",
        "",
      ].join("\n"),
    };
    const d = await kit.deploy("good", "node", good);
    expect(d.status, JSON.stringify(d)).toBe("succeeded");
    expect(d.log).toMatch(/load check: the handler loaded/);
    const ok = await kit.tg.call("GET", `/fn/${kit.tenant.name}/good/`);
    expect(ok.status, ok.body).toBe(200);
    expect(ok.body).toBe("loaded fine");
    const boom = await kit.tg.call("GET", `/fn/${kit.tenant.name}/good/boom`);
    expect(boom.status).toBe(500);
    expect(boom.json).toEqual({ error: { code: "FN_004", message: "kaboom in handler" } });
    expect(boom.body).not.toMatch(/\bat |index\.mjs|stack/);

    // The same source again: the image is cached and passed before, so it is not started again.
    const again = await kit.deploy("good", "node", good);
    expect(again.status).toBe("succeeded");
    expect(again.log).toContain("load check: this image passed before");
  }, 180_000);
});
