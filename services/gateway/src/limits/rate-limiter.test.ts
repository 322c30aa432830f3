import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.ts";

const MIN = 60_000;

describe("rate limiter", () => {
  it("rate limiter - admits the limit per window, then refuses with the time to the window's end", () => {
    const limiter = new RateLimiter();
    const t0 = 10 * MIN + 1000;
    const admitted = Array.from({ length: 7 }, () => limiter.check("f", 5, MIN, t0).allowed);
    expect(admitted).toEqual([true, true, true, true, true, false, false]);
    const refused = limiter.check("f", 5, MIN, t0);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, resetMs: MIN - 1000 });
    // Another bucket is counted apart.
    expect(limiter.check("g", 5, MIN, t0).allowed).toBe(true);
  });

  it("rate limiter - the previous window weighs in by the share of it still inside the sliding window", () => {
    const limiter = new RateLimiter();
    const start = 20 * MIN;
    for (let i = 0; i < 10; i++) expect(limiter.check("f", 10, MIN, start + i).allowed).toBe(true);
    // A quarter into the next window 75% of the previous one still counts: 7.5, so two more fit.
    const quarter = start + MIN + MIN / 4;
    expect([1, 2, 3].map(() => limiter.check("f", 10, MIN, quarter).allowed)).toEqual([true, true, false]);
    // Two windows later nothing of it is left.
    expect(limiter.check("f", 10, MIN, start + 3 * MIN).remaining).toBe(9);
  });

  it("rate limiter - counts gossiped by another gateway are added, absolute counts are not double counted", () => {
    const a = new RateLimiter();
    const b = new RateLimiter();
    const now = 30 * MIN + 5;
    for (let i = 0; i < 3; i++) a.check("f", 10, MIN, now);
    b.merge("a", a.report(), now);
    for (let i = 0; i < 2; i++) a.check("f", 10, MIN, now);
    // The second report says 5 (not 2 more on top of an unknown base): b knows of 5, not 8.
    b.merge("a", a.report(), now);
    expect(a.report()).toEqual([]);
    const decisions = Array.from({ length: 6 }, () => b.check("f", 10, MIN, now).allowed);
    expect(decisions).toEqual([true, true, true, true, true, false]);
    // And a learns of b's five: both are at the limit together.
    a.merge("b", b.report(), now);
    expect(a.check("f", 10, MIN, now).allowed).toBe(false);
  });

  it("rate limiter - a report for a window this gateway has not reached yet counts once it gets there", () => {
    const a = new RateLimiter();
    const b = new RateLimiter();
    const edge = 40 * MIN;
    for (let i = 0; i < 4; i++) a.check("f", 5, MIN, edge + 10); // a's clock is past the boundary
    b.check("f", 5, MIN, edge - 5); // b is still in the previous window
    b.merge("a", a.report(), edge - 5);
    // b in the new window: its own previous-window request weighs ~1, a's four count fully.
    expect(b.check("f", 5, MIN, edge + 20).allowed).toBe(false);
  });
});
