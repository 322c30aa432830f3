import type { CronSchedule } from "@kumo/core";
import type { TriggerCatchUp } from "@kumo/db";

/** What to do with a due trigger now: fire a slot, or only move its cursor. */
export type SlotPlan =
  | { kind: "fire"; scheduledAt: Date; nextFireAt: Date | null }
  | { kind: "skip"; nextFireAt: Date | null; reason: "missed" };

export interface SlotPlanInput {
  schedule: CronSchedule;
  /** The trigger's cursor: its next unfired slot, at or before `now`. */
  slot: Date;
  now: Date;
  catchUp: TriggerCatchUp;
  catchUpWindowMs: number;
  /** Slots at most this late are fired whatever the catch-up policy (a failover, a slow tick). */
  misfireGraceMs: number;
}

/**
 * The catch-up rule, pure so it is tested with fixed instants. A slot within the grace fires. An
 * older slot was missed (no scheduler ran): "skip" moves on to the first slot within the grace;
 * "once" fires one run for them all, as the latest missed slot (if inside the window); "all" fires each missed slot,
 * oldest first, starting inside the window.
 */
export function planSlot(input: SlotPlanInput): SlotPlan {
  const { schedule, slot, now, misfireGraceMs } = input;
  const graceStart = new Date(now.getTime() - misfireGraceMs);
  if (slot.getTime() >= graceStart.getTime()) {
    return { kind: "fire", scheduledAt: slot, nextFireAt: schedule.next(slot) };
  }
  const windowStart = now.getTime() - input.catchUpWindowMs;
  switch (input.catchUp) {
    case "skip":
      return {
        kind: "skip",
        nextFireAt: schedule.next(new Date(graceStart.getTime() - 1)),
        reason: "missed",
      };
    case "once": {
      // The latest missed slot stands for all of them; the slots after it are within the grace.
      const latest = schedule.previous(new Date(graceStart.getTime() - 1));
      if (latest && latest.getTime() >= windowStart) {
        return { kind: "fire", scheduledAt: latest, nextFireAt: schedule.next(latest) };
      }
      return {
        kind: "skip",
        nextFireAt: schedule.next(new Date(graceStart.getTime() - 1)),
        reason: "missed",
      };
    }
    case "all":
      if (slot.getTime() >= windowStart) {
        return { kind: "fire", scheduledAt: slot, nextFireAt: schedule.next(slot) };
      }
      return { kind: "skip", nextFireAt: schedule.next(new Date(windowStart - 1)), reason: "missed" };
  }
}
