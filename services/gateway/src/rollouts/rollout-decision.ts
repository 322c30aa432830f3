import type { RolloutRow, RoutingEntry } from "@kumo/db";

/** What the driver does with a due rollout. */
export type RolloutDecision =
  | { kind: "rollback"; errorRate: number; failed: number; total: number }
  | { kind: "advance"; stepIndex: number; weight: number; completed: boolean; errorRate: number | null }
  | { kind: "wait"; total: number };

/** Invocations of the new version since its current step began. */
export interface StepOutcomes {
  total: number;
  failed: number;
}

/**
 * Judges a rollout whose step is due. The new version's error rate counts only once at least
 * `min_requests` invocations reached it in this step: below that it waits for traffic rather than
 * promote a version nobody has exercised. Above `max_error_rate` it rolls back; otherwise it moves
 * to the next step.
 */
export function decideRollout(
  rollout: Pick<RolloutRow, "steps" | "step_index" | "max_error_rate" | "min_requests">,
  outcomes: StepOutcomes,
): RolloutDecision {
  const judged = outcomes.total > 0 && outcomes.total >= rollout.min_requests;
  if (!judged && rollout.min_requests > 0) return { kind: "wait", total: outcomes.total };
  const errorRate = outcomes.total === 0 ? null : outcomes.failed / outcomes.total;
  if (errorRate !== null && errorRate > rollout.max_error_rate) {
    return { kind: "rollback", errorRate, failed: outcomes.failed, total: outcomes.total };
  }
  const stepIndex = Math.min(rollout.step_index + 1, rollout.steps.length - 1);
  const weight = rollout.steps[stepIndex] ?? 100;
  return { kind: "advance", stepIndex, weight, completed: weight >= 100, errorRate };
}

/** The alias routing for a step: the new version at `weight` percent, the old one with the rest. */
export function stepRouting(fromVersion: number, toVersion: number, weight: number): RoutingEntry[] {
  if (weight >= 100) return [{ version: toVersion, weight: 100 }];
  if (weight <= 0) return [{ version: fromVersion, weight: 100 }];
  return [
    { version: fromVersion, weight: 100 - weight },
    { version: toVersion, weight },
  ];
}
