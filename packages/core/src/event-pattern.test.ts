import { describe, expect, it } from "vitest";
import { eventPatternProblem, eventTypeProblem, matchesEventPattern } from "./event-pattern.ts";

describe("event patterns", () => {
  it("event pattern - exact, one-segment * and tail > match as documented", () => {
    expect(matchesEventPattern("payment.processed", "payment.processed")).toBe(true);
    expect(matchesEventPattern("payment.processed", "payment.failed")).toBe(false);
    expect(matchesEventPattern("user.*", "user.created")).toBe(true);
    expect(matchesEventPattern("user.*", "user")).toBe(false);
    expect(matchesEventPattern("user.*", "user.created.v2")).toBe(false);
    expect(matchesEventPattern("*.created", "order.created")).toBe(true);
    expect(matchesEventPattern("user.>", "user.created.v2")).toBe(true);
    expect(matchesEventPattern("user.>", "user")).toBe(false);
    expect(matchesEventPattern("user", "user.created")).toBe(false);
  });

  it("event pattern - malformed types and patterns say what is wrong", () => {
    expect(eventPatternProblem("user.*")).toBeUndefined();
    expect(eventPatternProblem("user.>")).toBeUndefined();
    expect(eventPatternProblem("user..created")).toMatch(/segment 2/);
    expect(eventPatternProblem("user.>.x")).toMatch(/last segment/);
    expect(eventPatternProblem("us*r")).toMatch(/wildcard/);
    expect(eventPatternProblem("")).toMatch(/1 to 200/);
    expect(eventTypeProblem("user.*")).toMatch(/wildcards belong in subscriptions/);
    expect(eventTypeProblem("payment.processed")).toBeUndefined();
  });
});
