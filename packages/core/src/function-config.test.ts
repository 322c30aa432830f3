import { describe, expect, it } from "vitest";
import { functionConfigSchema } from "./function-config.ts";
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
});
