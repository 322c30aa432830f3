import type { AsyncInvocations } from "@kumo/bus";
import type { DueTrigger, PlatformStore, Recorder } from "@kumo/db";
import { afterEach, describe, expect, it } from "vitest";
import { CronLoop, IDLE_TICKS } from "./cron-loop.ts";

/**
 * The loop's pacing, against a stand-in for its neighbour (the trigger store): the queries it makes
 * are counted. What the queries do is tested against PostgreSQL in test/triggers/.
 */
class CountingTriggers {
  dueCalls: number[] = [];
  dueRows: DueTrigger[] = [];
  settled = 0;
  nextFire: Date | null = null;

  async due(): Promise<DueTrigger[]> {
    this.dueCalls.push(performance.now());
    return this.dueRows;
  }
  async settleOutcomes(): Promise<number> {
    return this.settled;
  }
  async nextFireAt(): Promise<Date | null> {
    return this.nextFire;
  }
}

const TICK_MS = 20;
let loop: CronLoop | undefined;

function startLoop(triggers: CountingTriggers, tickMs = TICK_MS): CronLoop {
  loop = new CronLoop({
    platform: { scheduledTriggers: () => triggers } as unknown as PlatformStore,
    sender: {} as AsyncInvocations,
    recorder: { flush: async () => {} } as unknown as Recorder,
    isLeader: () => true,
    tickMs,
    misfireGraceMs: 60_000,
    log: () => {},
  });
  loop.start();
  return loop;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  await loop?.stop();
  loop = undefined;
});

describe("cron loop pacing", () => {
  it("cron loop - an idle loop with no slot ahead waits IDLE_TICKS ticks between passes", async () => {
    const triggers = new CountingTriggers();
    startLoop(triggers);
    await sleep(TICK_MS * IDLE_TICKS * 6);
    // About 6 passes (plus the first); every tick would have been ~24.
    expect(triggers.dueCalls.length).toBeGreaterThanOrEqual(3);
    expect(triggers.dueCalls.length).toBeLessThanOrEqual(9);
    const gaps = triggers.dueCalls.slice(1).map((t, i) => t - (triggers.dueCalls[i] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(TICK_MS * IDLE_TICKS - 5);
  });

  it("cron loop - an idle loop wakes for the next slot rather than the whole idle wait", async () => {
    const tick = 50;
    const triggers = new CountingTriggers();
    triggers.nextFire = new Date(Date.now() + 10_000);
    startLoop(triggers, tick);
    await sleep(10);
    // The next slot moves close: the pass after the current idle wait sees it, and the one after
    // that comes at the slot's time (about half a tick later), not a whole idle wait later.
    triggers.nextFire = new Date(Date.now() + tick * IDLE_TICKS + tick / 2);
    const slotAt = triggers.nextFire.getTime();
    await sleep(tick * IDLE_TICKS * 3);
    const wakes = triggers.dueCalls.map((t) => t - performance.now() + Date.now());
    const firstAfterSlot = wakes.find((t) => t >= slotAt - 2);
    expect(firstAfterSlot).toBeDefined();
    expect((firstAfterSlot ?? 0) - slotAt).toBeLessThan(tick * IDLE_TICKS - tick);
  });

  it("cron loop - while triggers are due or runs settle, it ticks every tickMs", async () => {
    const triggers = new CountingTriggers();
    // A row the loop looks at and leaves (no schedule): still work in sight, so no idling.
    triggers.dueRows = [{ schedule: null } as unknown as DueTrigger];
    startLoop(triggers);
    await sleep(TICK_MS * IDLE_TICKS * 6);
    // Idle pacing would allow at most 7 passes in this time; every tick is ~24.
    expect(triggers.dueCalls.length).toBeGreaterThanOrEqual(10);

    await loop?.stop();
    const settling = new CountingTriggers();
    settling.settled = 1;
    startLoop(settling);
    await sleep(TICK_MS * IDLE_TICKS * 6);
    expect(settling.dueCalls.length).toBeGreaterThanOrEqual(10);
  });
});
