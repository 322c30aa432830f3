import { KumoError } from "@kumo/core";
import { describe, expect, it } from "vitest";
import { bundleEdgeFunction } from "./bundle-edge-function.ts";

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
});
