/** One request of a steady load: when it was sent, how it ended. */
export interface Outcome {
  /** A sync call of the edge function, an async one, or a sync call of the container function. */
  kind: "sync" | "async" | "container";
  /** Epoch ms when the request was sent. */
  at: number;
  ok: boolean;
  /** HTTP status; 0 when no answer came (connection error or the client's timeout). */
  status: number;
  /** The error code of a refusal (FN_0xx), "timeout", "network", or the status when the body has no code. */
  code: string;
  /** A refusal's message, for the test's failure output. */
  message?: string;
  /** Async: the accepted invocation's id. */
  invocationId?: string;
  n: number;
  /** Time to the answer (or to the failure). */
  ms: number;
}

export interface SteadyLoadOptions {
  /** The function's public URL (through the load balancer). */
  url: string;
  syncWorkers: number;
  asyncWorkers: number;
  /** Sync calls to a second function (a container one), each worker on its own. */
  container?: { url: string; workers: number };
  /** Pause between one worker's requests. */
  pauseMs?: number;
  /** A request without an answer after this long counts as a hang. */
  timeoutMs?: number;
}

/**
 * Closed-loop load: each worker sends the next request when the previous one is answered, so
 * throughput shows how fast the platform answers, and a failure shows when and with what code.
 * The function gets `{ n }` with a number unique to the request.
 */
export class SteadyLoad {
  readonly outcomes: Outcome[] = [];
  readonly #options: Required<Omit<SteadyLoadOptions, "container">> & Pick<SteadyLoadOptions, "container">;
  #running = false;
  #workers: Promise<void>[] = [];
  #n = 0;

  constructor(options: SteadyLoadOptions) {
    this.#options = { pauseMs: 5, timeoutMs: 15_000, ...options };
  }

  start(): void {
    this.#running = true;
    const { syncWorkers, asyncWorkers, container } = this.#options;
    this.#workers = [
      ...Array.from({ length: syncWorkers }, () => this.#work("sync")),
      ...Array.from({ length: asyncWorkers }, () => this.#work("async")),
      ...Array.from({ length: container?.workers ?? 0 }, () => this.#work("container")),
    ];
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
  }

  async #work(kind: Outcome["kind"]): Promise<void> {
    while (this.#running) {
      this.outcomes.push(await this.#send(kind, this.#n++));
      await new Promise((r) => setTimeout(r, this.#options.pauseMs));
    }
  }

  async #send(kind: Outcome["kind"], n: number): Promise<Outcome> {
    const at = Date.now();
    try {
      const url = kind === "container" ? (this.#options.container?.url ?? "") : this.#options.url;
      const res = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(kind === "async" ? { "kumo-invocation-type": "async" } : {}),
        },
        body: JSON.stringify({ n }),
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      const text = await res.text();
      let json:
        | { invocationId?: string; n?: number; error?: { code?: string; message?: string } }
        | undefined;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const ok = kind === "async" ? res.status === 202 : res.status === 200 && json?.n === n;
      return {
        kind,
        at,
        ok,
        status: res.status,
        code: ok ? "" : (json?.error?.code ?? String(res.status)),
        ...(!ok && json?.error?.message ? { message: String(json.error.message) } : {}),
        ...(kind === "async" && json?.invocationId ? { invocationId: json.invocationId } : {}),
        n,
        ms: Date.now() - at,
      };
    } catch (error) {
      const timeout =
        error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
      return {
        kind,
        at,
        ok: false,
        status: 0,
        code: timeout ? "timeout" : "network",
        n,
        ms: Date.now() - at,
      };
    }
  }
}

/**
 * Time from `from` until throughput is back for good: the end of the last 500 ms bucket in
 * [from, until) with less than `fraction` of the baseline's events per bucket (0 when it never
 * dropped), or null when the last bucket is still low (not back within the window).
 */
export function recoveryMs(
  times: number[],
  baselinePerBucket: number,
  from: number,
  until: number,
  fraction = 0.8,
): number | null {
  let lastLow: number | undefined;
  let last = from;
  for (let t = from; t + 500 <= until; t += 500) {
    const n = times.filter((x) => x >= t && x < t + 500).length;
    if (n < baselinePerBucket * fraction) lastLow = t;
    last = t;
  }
  if (lastLow === undefined) return 0;
  return lastLow === last ? null : lastLow + 500 - from;
}

/** Events per 500 ms bucket between two instants. */
export function perBucket(times: number[], from: number, to: number): number {
  return (times.filter((x) => x >= from && x < to).length * 500) / Math.max(1, to - from);
}
