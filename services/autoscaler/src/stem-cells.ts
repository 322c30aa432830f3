import type { StemRuntime } from "./config.ts";
import type { Instance } from "./instance.ts";

export interface StemCellsOptions {
  /** Always kept ready per runtime. */
  min: Partial<Record<StemRuntime, number>>;
  /** Upper bound per runtime, whatever the demand. */
  max: number;
  startCell(runtime: StemRuntime): Promise<Instance>;
  onError(error: unknown): void;
  /** Demand is counted in buckets of this length over `windowMs` (defaults 10 s over 5 min). */
  bucketMs?: number;
  windowMs?: number;
}

/**
 * How long after a cell is taken no new cell starts. A specialization and its first invocation take
 * ~10-15 ms; a container start begun meanwhile (dockerd, containerd and runc use ~0.5 s of CPU)
 * took the CPU from them and added 2-4 ms to the cold start it was replacing the cell for.
 */
const QUIET_MS = 50;
/** Takes in a row keep the pool from refilling for at most this long. */
const MAX_QUIET_MS = 250;

/**
 * Pre-started generic containers per runtime, specialized with a version's code on first use.
 * Sizing from observed demand: the target per runtime is the largest number of instance starts seen
 * in one 10 s bucket during the last 5 minutes (between `min` and `max`), so a burst that needed
 * three cold starts finds three cells next time, and an idle runtime falls back to `min`.
 */
export class StemCells {
  readonly #options: StemCellsOptions;
  readonly #ready = new Map<StemRuntime, Instance[]>();
  readonly #starting = new Map<StemRuntime, number>();
  readonly #demand = new Map<StemRuntime, Map<number, number>>();
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  /** No cell starts before this (performance.now()): a cell taken is being specialized. */
  #quietUntil = 0;
  /** When the current quiet period began (it lasts at most MAX_QUIET_MS). */
  #quietSince: number | undefined;

  constructor(options: StemCellsOptions) {
    this.#options = options;
  }

  start(): void {
    this.refill();
    this.#timer = setInterval(() => this.refill(), 500);
    this.#timer.unref();
  }

  /** A ready cell of the runtime, or undefined; the pool refills in the background. */
  take(runtime: StemRuntime): Instance | undefined {
    const cells = this.#ready.get(runtime);
    let cell = cells?.shift();
    while (cell && cell.state !== "ready") cell = cells?.shift();
    // The replacement starts once the cell taken has served its first invocation (see QUIET_MS).
    const now = performance.now();
    if (this.#quietSince === undefined) this.#quietSince = now;
    this.#quietUntil = Math.min(now + QUIET_MS, this.#quietSince + MAX_QUIET_MS);
    setTimeout(() => this.refill(), this.#quietUntil - now + 1).unref();
    return cell;
  }

  /** A cell taken and not used (the version could not run in one) goes back to the front of the pool. */
  putBack(runtime: StemRuntime, cell: Instance): void {
    if (this.#stopped) {
      void cell.destroy();
      return;
    }
    const cells = this.#ready.get(runtime);
    if (cells) cells.unshift(cell);
    else this.#ready.set(runtime, [cell]);
  }

  /** One instance start of the runtime was needed (whether or not a cell served it). */
  noteDemand(runtime: StemRuntime): void {
    const bucketMs = this.#options.bucketMs ?? 10_000;
    const bucket = Math.floor(Date.now() / bucketMs);
    let buckets = this.#demand.get(runtime);
    if (!buckets) {
      buckets = new Map();
      this.#demand.set(runtime, buckets);
    }
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
  }

  target(runtime: StemRuntime): number {
    const bucketMs = this.#options.bucketMs ?? 10_000;
    const oldest = Math.floor((Date.now() - (this.#options.windowMs ?? 300_000)) / bucketMs);
    let peak = 0;
    const buckets = this.#demand.get(runtime);
    for (const [bucket, count] of buckets ?? []) {
      if (bucket < oldest) buckets?.delete(bucket);
      else peak = Math.max(peak, count);
    }
    return Math.min(this.#options.max, Math.max(this.#options.min[runtime] ?? 0, peak));
  }

  /** Counts of ready cells per runtime (metrics, tests). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [runtime, cells] of this.#ready)
      out[runtime] = cells.filter((c) => c.state === "ready").length;
    return out;
  }

  refill(): void {
    if (this.#stopped) return;
    const quiet = performance.now() < this.#quietUntil;
    if (!quiet) this.#quietSince = undefined;
    const runtimes = new Set<StemRuntime>([
      ...(Object.keys(this.#options.min) as StemRuntime[]),
      ...this.#demand.keys(),
      ...this.#ready.keys(),
    ]);
    for (const runtime of runtimes) {
      const cells = (this.#ready.get(runtime) ?? []).filter((c) => c.state === "ready");
      this.#ready.set(runtime, cells);
      const starting = this.#starting.get(runtime) ?? 0;
      const target = this.target(runtime);
      // One start at a time per runtime: a refill must not compete with the cold starts it replaces.
      if (cells.length + starting < target && starting === 0 && !quiet) this.#startCell(runtime);
      while (cells.length > target) void cells.pop()?.destroy();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    const all = [...this.#ready.values()].flat();
    this.#ready.clear();
    await Promise.all(all.map((c) => c.destroy()));
  }

  #startCell(runtime: StemRuntime): void {
    this.#starting.set(runtime, (this.#starting.get(runtime) ?? 0) + 1);
    this.#options.startCell(runtime).then(
      (cell) => {
        this.#starting.set(runtime, (this.#starting.get(runtime) ?? 1) - 1);
        if (this.#stopped) {
          void cell.destroy();
          return;
        }
        const cells = this.#ready.get(runtime) ?? [];
        cells.push(cell);
        this.#ready.set(runtime, cells);
        void cell.exited.then(() => {
          const list = this.#ready.get(runtime);
          const at = list?.indexOf(cell) ?? -1;
          if (list && at >= 0) list.splice(at, 1);
        });
        this.refill();
      },
      (error: unknown) => {
        this.#starting.set(runtime, (this.#starting.get(runtime) ?? 1) - 1);
        this.#options.onError(error);
      },
    );
  }
}
