import { describe, expect, it } from "vitest";
import { functionConfigSchema, runtimeFamily } from "./function-config.ts";
import { parseOrThrow } from "./validation.ts";

describe("function config", () => {
  it("function config - fills defaults and normalizes durations to ms", () => {
    const config = parseOrThrow(
      functionConfigSchema,
      { runtime: "edge", timeoutMs: "30s", scaling: { idleTtlMs: "5m" } },
      "kumo.json",
    );
    expect(config.timeoutMs).toBe(30_000);
    expect(config.memoryMb).toBe(128);
    expect(config.scaling.idleTtlMs).toBe(300_000);
    expect(config.httpAuth).toBe("public");
  });

  it("function config - lists every problem with its field", () => {
    try {
      parseOrThrow(
        functionConfigSchema,
        { runtime: "cobol", memoryMb: 1e9, envv: {}, scaling: { minInstances: 5, maxInstances: 2 } },
        "kumo.json",
      );
      expect.unreachable();
    } catch (error) {
      const problems = (error as { details: { problems: { field: string }[] } }).details.problems.map(
        (p) => p.field,
      );
      expect(problems).toEqual(
        expect.arrayContaining(["runtime", "memoryMb", "(body)", "scaling.minInstances"]),
      );
      expect((error as { code: string }).code).toBe("FN_006");
    }
  });

  it("function config - refuses env keys and secrets that are not identifiers", () => {
    expect(() =>
      parseOrThrow(functionConfigSchema, { runtime: "node", env: { "A-B": "x" } }, "kumo.json"),
    ).toThrow(/env/);
    expect(() =>
      parseOrThrow(functionConfigSchema, { runtime: "node", secrets: ["../x"] }, "kumo.json"),
    ).toThrow(/secrets/);
  });

  it("function config - runtime takes a family or a pinned version, and names the accepted ones otherwise", () => {
    expect(parseOrThrow(functionConfigSchema, { runtime: "node22" }, "kumo.json").runtime).toBe("node22");
    expect(parseOrThrow(functionConfigSchema, { runtime: "python3.13" }, "kumo.json").runtime).toBe(
      "python3.13",
    );
    expect([runtimeFamily("node20"), runtimeFamily("python3.11"), runtimeFamily("go")]).toEqual([
      "node",
      "python",
      "go",
    ]);
    try {
      parseOrThrow(functionConfigSchema, { runtime: "node18" }, "kumo.json");
      expect.unreachable();
    } catch (error) {
      const { code, message } = error as { code: string; message: string };
      expect(code).toBe("FN_006");
      expect(message).toContain(
        'unknown runtime "node18": use one of edge, node, bun, deno, python, go, container, node20, node22, node24, python3.11, python3.13',
      );
    }
  });
});
