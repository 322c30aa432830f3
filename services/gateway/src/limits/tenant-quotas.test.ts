import { KumoError } from "@kumo/core";
import type { PlatformStore, QuotaLimits } from "@kumo/db";
import { describe, expect, it } from "vitest";
import { TenantQuotas } from "./tenant-quotas.ts";

const UNLIMITED: QuotaLimits = {
  functions: null,
  versionsPerFunction: null,
  concurrency: null,
  invocationsPerDay: null,
  buildMinutesPerDay: null,
  storedBytes: null,
};

/** A platform whose tenants have `own` quotas and `rollups` invocations counted today (a fake neighbour). */
function fakePlatform(own: Partial<QuotaLimits>, rollups: { count: number; reads: number }): PlatformStore {
  return {
    tenant: () => ({
      quotas: { get: async () => ({ ...UNLIMITED, ...own }) },
      usage: {
        invocationsSince: async () => {
          rollups.reads++;
          return rollups.count;
        },
      },
    }),
  } as unknown as PlatformStore;
}

function quotas(own: Partial<QuotaLimits>, rollups = { count: 0, reads: 0 }, clock = { now: 1_000_000 }) {
  return new TenantQuotas({
    platform: fakePlatform(own, rollups),
    defaults: UNLIMITED,
    refreshMs: 10_000,
    staleMs: 1000,
    now: () => clock.now,
  });
}

const refusal = (fn: () => unknown): KumoError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof KumoError) return error;
  }
  throw new Error("expected a refusal");
};

describe("tenant quotas - runtime counters", () => {
  it("tenant quotas - concurrency: slots are held until released, released once", async () => {
    const q = quotas({ concurrency: 2 });
    const a = await q.admit("t1", true);
    const b = await q.admit("t1", true);
    const error = refusal(() => q.admit("t1", true));
    expect(error.code).toBe("FN_007");
    expect(error.message).toMatch(/"concurrency" reached: 2 of 2/);
    // Async invocations take no slot; other tenants have their own.
    expect(typeof (await q.admit("t1", false))).toBe("function");
    await q.admit("t2", true);
    a();
    a();
    expect(q.concurrency("t1")).toBe(1);
    await q.admit("t1", true);
    b();
    expect(q.concurrency("t1")).toBe(1);
  });

  it("tenant quotas - concurrency across gateways: others' snapshots count until they go stale", async () => {
    const clock = { now: 1_000_000 };
    const q = quotas({ concurrency: 3 }, undefined, clock);
    await q.admit("t1", true);
    q.merge("gw-b", { t1: 2 });
    expect(q.concurrency("t1")).toBe(3);
    expect(refusal(() => q.admit("t1", true)).code).toBe("FN_007");
    // A newer snapshot replaces the older one.
    q.merge("gw-b", { t1: 1 });
    expect(q.concurrency("t1")).toBe(2);
    clock.now += 1500;
    expect(q.concurrency("t1")).toBe(1);
  });

  it("tenant quotas - report: the snapshot while anything runs, one empty snapshot after, then nothing", async () => {
    const q = quotas({});
    expect(q.report()).toBeUndefined();
    const release = await q.admit("t1", true);
    expect(q.report()).toEqual({ t1: 1 });
    expect(q.report()).toEqual({ t1: 1 });
    release();
    expect(q.report()).toEqual({});
    expect(q.report()).toBeUndefined();
  });

  it("tenant quotas - invocations per day: the rollups' count plus this gateway's admissions", async () => {
    const clock = { now: 10 * 86_400_000 + 3_600_000 };
    const rollups = { count: 5, reads: 0 };
    const q = quotas({ invocationsPerDay: 8 }, rollups, clock);
    await q.admit("t1", false);
    await q.admit("t1", true);
    await q.admit("t1", false);
    const error = refusal(() => q.admit("t1", false));
    expect(error.message).toMatch(/"invocationsPerDay" reached: 8 of 8/);
    expect(error.details).toMatchObject({ quota: "invocationsPerDay", limit: 8, used: 8 });
    expect(rollups.reads).toBe(1);
    // A reload well after the admissions: the rollups have them now, they are not counted twice.
    clock.now += 20_000;
    rollups.count = 8;
    expect(await q.invocationsToday("t1")).toBe(8);
    // A new UTC day starts from the rollups again.
    clock.now += 86_400_000;
    rollups.count = 0;
    expect(await q.invocationsToday("t1")).toBe(0);
  });

  it("tenant quotas - a reload keeps the admissions of the last seconds, which the rollups may lack", async () => {
    const clock = { now: 10 * 86_400_000 + 3_600_000 };
    const rollups = { count: 0, reads: 0 };
    const q = quotas({ invocationsPerDay: 100 }, rollups, clock);
    for (let i = 0; i < 3; i++) await q.admit("t1", false);
    clock.now += 1000;
    expect(await q.invocationsToday("t1")).toBe(3);
  });
});
