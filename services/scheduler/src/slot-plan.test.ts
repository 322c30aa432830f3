import { CronSchedule } from "@kumo/core";
import { describe, expect, it } from "vitest";
import { planSlot } from "./slot-plan.ts";

const everyMinute = CronSchedule.parse("0 * * * * *");
const at = (s: string) => new Date(s);
const base = {
  schedule: everyMinute,
  catchUpWindowMs: 3_600_000,
  misfireGraceMs: 30_000,
};

describe("slot plan", () => {
  it("slot plan - a slot within the grace fires whatever the policy (a failover)", () => {
    for (const catchUp of ["skip", "once", "all"] as const) {
      expect(
        planSlot({ ...base, catchUp, slot: at("2026-01-01T10:00:00Z"), now: at("2026-01-01T10:00:20Z") }),
      ).toEqual({
        kind: "fire",
        scheduledAt: at("2026-01-01T10:00:00Z"),
        nextFireAt: at("2026-01-01T10:01:00Z"),
      });
    }
  });

  it("slot plan - missed slots: skip moves on, once fires the latest, all fires the oldest in the window", () => {
    const missed = { ...base, slot: at("2026-01-01T10:00:00Z"), now: at("2026-01-01T10:05:10Z") };
    expect(planSlot({ ...missed, catchUp: "skip" })).toEqual({
      kind: "skip",
      nextFireAt: at("2026-01-01T10:05:00Z"),
      reason: "missed",
    });
    expect(planSlot({ ...missed, catchUp: "once" })).toEqual({
      kind: "fire",
      scheduledAt: at("2026-01-01T10:04:00Z"),
      nextFireAt: at("2026-01-01T10:05:00Z"),
    });
    expect(planSlot({ ...missed, catchUp: "all" })).toEqual({
      kind: "fire",
      scheduledAt: at("2026-01-01T10:00:00Z"),
      nextFireAt: at("2026-01-01T10:01:00Z"),
    });
  });

  it("slot plan - nothing older than the catch-up window is owed", () => {
    const old = {
      ...base,
      catchUpWindowMs: 120_000,
      slot: at("2026-01-01T08:00:00Z"),
      now: at("2026-01-01T10:00:40Z"),
    };
    expect(planSlot({ ...old, catchUp: "all" })).toEqual({
      kind: "skip",
      nextFireAt: at("2026-01-01T09:59:00Z"),
      reason: "missed",
    });
    expect(planSlot({ ...old, catchUp: "once" })).toMatchObject({
      kind: "fire",
      scheduledAt: at("2026-01-01T10:00:00Z"),
    });
    expect(planSlot({ ...old, catchUp: "skip" })).toMatchObject({
      kind: "skip",
      nextFireAt: at("2026-01-01T10:01:00Z"),
    });
  });
});
