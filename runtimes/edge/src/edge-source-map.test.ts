import { describe, expect, it } from "vitest";
import { bundleEdgeFunction } from "./bundle-edge-function.ts";
import { splitEdgeScript } from "./edge-script.ts";
import { edgeTarget, invokeEdge } from "./edge-test-kit.ts";
import { edgeProviderForFile, ROOMY } from "./edge-test-provider.ts";

const edge = edgeProviderForFile();

const stackOf = (details: unknown): string => (details as { stack?: string } | undefined)?.stack ?? "";

const LIB = `// pricing rules
export interface Line { sku: string; qty: number }

export function totalOf(lines: Line[]): number {
  let total = 0;
  for (const line of lines) {
    if (line.qty < 0) throw new RangeError(\`negative quantity for \${line.sku}\`);
    total += line.qty;
  }
  return total;
}
`;
/** Line and column of the throw in LIB. */
const THROW_AT = "src/lib.ts:7:";

const INDEX = `import { totalOf } from "./lib.ts";
export default {
  async fetch(request: Request): Promise<Response> {
    const lines = await request.json();
    return Response.json({ total: totalOf(lines) });
  },
};
`;

describe("edge source maps", () => {
  it("bundle - the stored script carries a source map naming the user's files, kept apart from the code", async () => {
    const bundle = await bundleEdgeFunction({ "src/index.ts": INDEX, "src/lib.ts": LIB });
    const { code, sourceMap } = splitEdgeScript(bundle.code);
    expect(code).not.toContain("sourceMappingURL");
    expect(bundle.codeBytes).toBe(Buffer.byteLength(code));
    const map = JSON.parse(sourceMap ?? "{}") as { sources: string[]; sourcesContent?: unknown };
    expect(map.sources.sort()).toEqual(["src/index.ts", "src/lib.ts"]);
    expect(map.sourcesContent).toBeUndefined();
  });

  it("errors - a throw in src/lib.ts is reported at src/lib.ts:LINE in the record's stack and the logs", async () => {
    const target = await edgeTarget({ "src/index.ts": INDEX, "src/lib.ts": LIB }, { config: ROOMY });
    const res = await invokeEdge(edge.current, target, {
      method: "POST",
      body: JSON.stringify([
        { sku: "a", qty: 1 },
        { sku: "b", qty: -2 },
      ]),
    });
    expect(res.result.error?.code).toBe("FN_004");
    expect(res.result.error?.message).toBe("RangeError: negative quantity for b");
    const stack = stackOf(res.result.error?.details);
    expect(stack).toContain(THROW_AT);
    expect(stack).toMatch(/at totalOf \(src\/lib\.ts:7:\d+\)/);
    expect(stack).toMatch(/src\/index\.ts:5:\d+/);
    expect(stack).not.toContain("kumo:fn/");
    // Public callers get the envelope without a stack.
    expect(res.text).not.toContain("src/lib.ts");

    const logged = await edgeTarget(
      {
        "src/index.ts": `import { totalOf } from "./lib.ts";
export default { fetch() {
  try { totalOf([{ sku: "z", qty: -1 }]); } catch (error) { console.error((error as Error).stack); }
  return new Response("ok");
} };`,
        "src/lib.ts": LIB,
      },
      { config: ROOMY },
    );
    const ok = await invokeEdge(edge.current, logged);
    expect(ok.status).toBe(200);
    const line = ok.result.logs?.find((l) => l.level === "error")?.message ?? "";
    expect(line).toContain(THROW_AT);
    expect(line).not.toContain("kumo:fn/");
  });

  it("errors - a module that throws while loading is mapped too (line 1 of the bundle included)", async () => {
    const target = await edgeTarget(
      {
        "index.ts": `import { boot } from "./boot.ts";\nboot();\nexport default { fetch: () => new Response("never") };`,
        "boot.ts": `\n\nexport function boot(): void {\n  throw new Error("cannot boot");\n}\n`,
      },
      { config: ROOMY },
    );
    const res = await invokeEdge(edge.current, target);
    expect(res.result.error?.message).toContain("Error: cannot boot");
    const stack = stackOf(res.result.error?.details);
    expect(stack).toContain("boot.ts:4:");
    expect(stack).toContain("index.ts:2:");
  });
});
