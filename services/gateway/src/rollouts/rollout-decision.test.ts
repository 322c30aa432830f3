import { describe, expect, it } from "vitest";
import { decideRollout, stepRouting } from "./rollout-decision.ts";

const rollout = { steps: [10, 50, 100], step_index: 0, max_error_rate: 0.05, min_requests: 20 };

describe("rollout decision", () => {
  it("rollout decision - waits for min requests, then advances or rolls back on the error rate", () => {
    expect(decideRollout(rollout, { total: 19, failed: 19 })).toEqual({ kind: "wait", total: 19 });
    expect(decideRollout(rollout, { total: 20, failed: 1 })).toEqual({
      kind: "advance",
      stepIndex: 1,
      weight: 50,
      completed: false,
      errorRate: 0.05,
    });
    expect(decideRollout(rollout, { total: 20, failed: 2 })).toEqual({
      kind: "rollback",
      errorRate: 0.1,
      failed: 2,
      total: 20,
    });
    expect(decideRollout({ ...rollout, step_index: 1 }, { total: 100, failed: 0 })).toMatchObject({
      kind: "advance",
      weight: 100,
      completed: true,
    });
  });

  it("rollout decision - with minRequests 0 an idle step advances", () => {
    expect(decideRollout({ ...rollout, min_requests: 0 }, { total: 0, failed: 0 })).toMatchObject({
      kind: "advance",
      errorRate: null,
    });
  });

  it("rollout decision - step routing splits between old and new", () => {
    expect(stepRouting(1, 2, 10)).toEqual([
      { version: 1, weight: 90 },
      { version: 2, weight: 10 },
    ]);
    expect(stepRouting(1, 2, 100)).toEqual([{ version: 2, weight: 100 }]);
    expect(stepRouting(1, 2, 0)).toEqual([{ version: 1, weight: 100 }]);
  });
});
