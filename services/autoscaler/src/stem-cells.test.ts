import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Instance } from "./instance.ts";
import { StemCells } from "./stem-cells.ts";

/** A ready container as far as the pool can tell (the pool reads state, exited and destroy). */
function fakeCell(): Instance {
  return { state: "ready", exited: new Promise(() => {}), destroy: async () => {} } as unknown as Instance;
}

describe("stem cells - refilling after a take", () => {
  let starts: number[];
  let cells: StemCells;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setInterval", "clearInterval", "performance", "Date"] });
    starts = [];
    cells = new StemCells({
      min: { node: 1 },
      max: 4,
      startCell: async () => {
        starts.push(performance.now());
        return fakeCell();
      },
      onError: (error) => {
        throw error;
      },
    });
    cells.start();
    await vi.advanceTimersByTimeAsync(1);
    expect(cells.counts().node).toBe(1);
  });
  afterEach(async () => {
    await cells.stop();
    vi.useRealTimers();
  });

  it("the replacement of a cell taken starts once the cell has had time to serve its first invocation", async () => {
    const t0 = performance.now();
    expect(cells.take("node")).toBeDefined();
    await vi.advanceTimersByTimeAsync(40);
    expect(starts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(20);
    expect(starts).toHaveLength(2);
    expect((starts[1] as number) - t0).toBeGreaterThanOrEqual(50);
    expect(cells.counts().node).toBe(1);
  });

  it("takes in a row hold the refill back for at most 250 ms", async () => {
    const t0 = performance.now();
    cells.take("node");
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(30);
      cells.take("node");
    }
    expect(starts.length).toBeGreaterThan(1);
    expect((starts[1] as number) - t0).toBeGreaterThanOrEqual(250);
    expect((starts[1] as number) - t0).toBeLessThan(300);
  });
});
