import { describe, expect, it } from "vitest";
import { pickVersion } from "./pick-version.ts";

describe("pick version", () => {
  it("pick version - weights hold over 10,000 picks within 4 standard deviations", () => {
    const routing = [
      { version: 1, weight: 90 },
      { version: 2, weight: 10 },
    ];
    const n = 10_000;
    let v2 = 0;
    for (let i = 0; i < n; i++) if (pickVersion(routing) === 2) v2++;
    const sd = Math.sqrt(n * 0.1 * 0.9);
    expect(Math.abs(v2 - n * 0.1)).toBeLessThan(4 * sd);
  });

  it("pick version - sticky keys always get the same version and still split by weight", () => {
    const routing = [
      { version: 3, weight: 50 },
      { version: 4, weight: 50 },
    ];
    let v4 = 0;
    for (let i = 0; i < 2000; i++) {
      const first = pickVersion(routing, `user-${i}`);
      for (let j = 0; j < 3; j++) expect(pickVersion(routing, `user-${i}`)).toBe(first);
      if (first === 4) v4++;
    }
    expect(v4).toBeGreaterThan(850);
    expect(v4).toBeLessThan(1150);
  });

  it("pick version - zero-weight versions are never chosen and empty routing chooses nothing", () => {
    const routing = [
      { version: 1, weight: 0 },
      { version: 2, weight: 100 },
    ];
    for (let i = 0; i < 500; i++) expect(pickVersion(routing)).toBe(2);
    expect(pickVersion([])).toBeUndefined();
  });
});
