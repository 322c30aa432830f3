import type { Database } from "@kumo/db";
import { compactMetrics, purgeMetrics } from "@kumo/db";
import type { Kysely } from "kysely";

export interface MetricsMaintainerOptions {
  db: Kysely<Database>;
  intervalMs: number;
  minuteRetentionMs: number;
  hourRetentionMs: number;
  onError: (error: unknown) => void;
}

/**
 * Keeps the metrics rollups in shape on a timer: merges ended hours' minute rows into hour rows,
 * then deletes rows past retention in small batches. Every gateway runs one; compaction takes an
 * advisory lock, so one works at a time, and purging is a few short idempotent deletes.
 */
export class MetricsMaintainer {
  readonly #options: MetricsMaintainerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: MetricsMaintainerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#running = this.#running.then(() => this.runOnce());
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** One pass (tests and benchmarks call it directly). */
  async runOnce(now = Date.now()): Promise<void> {
    if (this.#stopped) return;
    const { db, minuteRetentionMs, hourRetentionMs } = this.#options;
    try {
      await compactMetrics(db, { now });
      await purgeMetrics(db, { now, minuteRetentionMs, hourRetentionMs });
    } catch (error) {
      this.#options.onError(error);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}
