import { describe, expect, it } from "vitest";
import { TokenBuckets } from "./token-buckets.ts";

describe("token buckets", () => {
  it("token buckets - a key gets its capacity at once, then the refill rate; keys are apart", () => {
    const buckets = new TokenBuckets({ capacity: 3, perSecond: 2 });
    const t = 1_000_000;
    expect([buckets.take("a", t), buckets.take("a", t), buckets.take("a", t)]).toEqual([0, 0, 0]);
    expect(buckets.take("a", t)).toBe(500);
    expect(buckets.take("b", t)).toBe(0);
    expect(buckets.take("a", t + 499)).toBeGreaterThan(0);
    expect(buckets.take("a", t + 500)).toBe(0);
    expect(buckets.take("a", t + 500)).toBe(500);
    // Refill never goes past the capacity.
    const later = t + 60_000;
    expect([0, 1, 2, 3].map(() => buckets.take("a", later))).toEqual([0, 0, 0, 500]);
  });
});
