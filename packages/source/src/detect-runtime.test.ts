import { describe, expect, it } from "vitest";
import { chooseRuntime, detectRuntime } from "./detect-runtime.ts";

describe("runtime detection", () => {
  it.each([
    [["Dockerfile", "package.json"], "container"],
    [["deno.json", "package.json"], "deno"],
    [["bun.lockb", "package.json"], "bun"],
    [["go.mod", "main.go"], "go"],
    [["requirements.txt"], "python"],
    [["pyproject.toml"], "python"],
    [["package.json", "index.js"], "node"],
    [["handler.go"], "go"],
    [["main.py"], "python"],
  ])("runtime detection - %j is %s", (paths, runtime) => {
    expect(detectRuntime(paths)?.runtime).toBe(runtime);
  });

  it("runtime detection - only root files count; edge stays edge; package.json keeps bun and deno", () => {
    expect(detectRuntime(["sub/go.mod", "index.js"])).toBeUndefined();
    expect(chooseRuntime("edge", ["requirements.txt"]).runtime).toBe("edge");
    expect(chooseRuntime("bun", ["package.json"]).runtime).toBe("bun");
    expect(chooseRuntime("node", ["go.mod"]).runtime).toBe("go");
    expect(chooseRuntime("python", ["index.js"]).runtime).toBe("python");
    // A pinned version stays pinned when the files name its family, and moves when they name another.
    expect(chooseRuntime("node22", ["package.json"]).runtime).toBe("node22");
    expect(chooseRuntime("python3.13", ["requirements.txt"]).runtime).toBe("python3.13");
    expect(chooseRuntime("node20", ["go.mod"]).runtime).toBe("go");
  });
});
