import { describe, expect, it } from "vitest";
import { versionChanges } from "./version-changes.ts";

describe("version changes", () => {
  it("version changes - names differing config keys and whether source or runtime changed", () => {
    const previous = {
      version: 3,
      source_digest: "a",
      runtime: "edge",
      config: { memoryMb: 128, env: { A: "1", B: "2" }, egress: false },
    };
    expect(
      versionChanges(previous, {
        sourceDigest: "a",
        runtime: "edge",
        config: { egress: false, env: { B: "2", A: "1" }, memoryMb: 256, cpuMs: 5 },
      }),
    ).toEqual({
      previousVersion: 3,
      sourceChanged: false,
      runtimeChanged: false,
      configKeys: ["cpuMs", "memoryMb"],
    });
    expect(
      versionChanges(undefined, { sourceDigest: "b", runtime: "edge", config: { memoryMb: 1 } }),
    ).toEqual({
      previousVersion: null,
      sourceChanged: true,
      runtimeChanged: true,
      configKeys: ["memoryMb"],
    });
  });
});
