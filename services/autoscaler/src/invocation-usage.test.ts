import { describe, expect, it } from "vitest";
import { takeUsage } from "./invocation-usage.ts";

describe("autoscaler - invocation usage header", () => {
  it("usage - read from the shim's header, which is taken out of the response", () => {
    const headers: [string, string][] = [
      ["content-type", "text/plain"],
      ["kumo-usage", "cpu=1.25;rss=52428800"],
      ["x-other", "1"],
    ];
    expect(takeUsage(headers)).toEqual({ cpuMs: 1.25, memoryBytes: 52428800 });
    expect(headers.map(([name]) => name)).toEqual(["content-type", "x-other"]);
  });

  it("usage - absent, partial or unbelievable figures", () => {
    expect(takeUsage([["content-type", "text/plain"]])).toBeUndefined();
    expect(takeUsage([["kumo-usage", "cpu=0.5"]])).toEqual({ cpuMs: 0.5 });
    const bad: [string, string][] = [["kumo-usage", "cpu=-1;rss=abc;x=3"]];
    expect(takeUsage(bad)).toBeUndefined();
    expect(bad).toEqual([]);
    expect(takeUsage([["kumo-usage", "cpu=1e12;rss=4096"]])).toEqual({ memoryBytes: 4096 });
  });
});
