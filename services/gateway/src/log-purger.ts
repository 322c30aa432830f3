import type { Database, PurgeLogsResult } from "@kumo/db";
import { purgeLogs } from "@kumo/db";
import type { Kysely } from "kysely";

export interface LogPurgerOptions {
  db: Kysely<Database>;
  intervalMs: number;
  /** Retention of tenants without their own `logRetentionDays`. */
  defaultRetentionMs: number;
  onError: (error: unknown) => void;
}

/**
 * Deletes function logs past their tenant's retention on a timer. Every gateway runs one; each
 * delete batch takes an advisory lock (see purgeLogs), so one gateway purges at a time, in
 * statements of at most 5,000 rows that never hold locks writers wait on.
 */
export class LogPurger {
  readonly #options: LogPurgerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(options: LogPurgerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#running = this.#running.then(() => this.runOnce());
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** One pass (tests call it directly); undefined when it failed or the purger is stopped. */
  async runOnce(now = Date.now()): Promise<PurgeLogsResult | undefined> {
    if (this.#stopped) return undefined;
    try {
      return await purgeLogs(this.#options.db, { now, defaultRetentionMs: this.#options.defaultRetentionMs });
    } catch (error) {
      this.#options.onError(error);
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}
