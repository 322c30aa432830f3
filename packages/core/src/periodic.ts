export interface PeriodicOptions<T> {
  everyMs: number;
  pass: (now: number) => Promise<T> | T;
  onError: (error: unknown) => void;
  /** Run the first pass at start (default: after the first interval). */
  immediately?: boolean;
}

/**
 * A pass run every `everyMs`, one at a time (the next waits `everyMs` after the previous ended), for
 * the platform's housekeeping: purges, compaction, alert evaluation. A failing pass is reported and
 * the schedule goes on; `stop()` resolves once the pass in progress ended.
 */
export class Periodic<T> {
  readonly #options: PeriodicOptions<T>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(options: PeriodicOptions<T>) {
    this.#options = options;
  }

  start(): this {
    if (this.#options.immediately) this.#tick();
    else this.#schedule();
    return this;
  }

  /** One pass now (tests call it directly); undefined when it failed or the task is stopped. */
  async runOnce(now = Date.now()): Promise<T | undefined> {
    if (this.#stopped) return undefined;
    try {
      return await this.#options.pass(now);
    } catch (error) {
      this.#options.onError(error);
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #tick(): void {
    this.#running = this.runOnce().finally(() => this.#schedule());
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#tick(), this.#options.everyMs);
    this.#timer.unref();
  }
}
