/** At most `limit` builds at once (2 cores: one docker build at a time by default); the rest wait in order. */
export class BuildLimiter {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** How many builds wait for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#running < this.#limit) this.#running++;
    else {
      // Woken by a finishing build that hands its slot over (running stays the same).
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener("abort", abort);
          resolve();
        };
        const abort = () => {
          const at = this.#waiting.indexOf(go);
          if (at !== -1) this.#waiting.splice(at, 1);
          reject(signal?.reason ?? new Error("aborted"));
        };
        signal?.addEventListener("abort", abort, { once: true });
        this.#waiting.push(go);
      });
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
