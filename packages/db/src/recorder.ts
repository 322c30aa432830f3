import type { Insertable, Kysely } from "kysely";
import { MetricsRollup } from "./metrics-rollup.ts";
import { type RejectedRecord, writeRecords } from "./record-writer.ts";
import type { Database, LogsTable, NewInvocation } from "./schema.ts";

export interface RecorderOptions {
  db: Kysely<Database>;
  flushMs: number;
  /** Above this many buffered records a flush starts at once. */
  maxBatch?: number;
  onError: (error: unknown) => void;
  /**
   * Records and log lines kept across a database outage (a restart, a failover) and written when
   * it answers again; beyond this many the oldest are dropped and reported. Default 100,000.
   */
  maxRetained?: number;
  /** A record or log line the database refused on its own; the rest of its batch was written. */
  onRejected?: (rejected: RejectedRecord) => void;
  /**
   * Per-minute metrics rollups of the records (see MetricsRollup): on by default, so every process
   * that records invocations also writes their rollups. `false` turns them off (benchmarks).
   */
  rollups?: boolean;
  /** How often rollup rows are written. Default 1 s. */
  rollupFlushMs?: number;
  /**
   * Least time between the starts of two writes (default 0). Under load, `flush()` callers (an
   * async worker acknowledging each invocation after its record is in) then share statements of
   * tens of records instead of a few: PostgreSQL's work and the driver's are mostly per statement.
   * A flush after a quiet spell still starts at once; under load it waits at most this long.
   */
  minWriteIntervalMs?: number;
}

/**
 * Buffers invocation records and log lines and writes them in batches, off the request path. The
 * gateway (sync records) and every autoscaler (async records, container logs) each run one.
 * A row the database refuses for its data is set aside and reported (see writeRecords); a batch
 * that fails as a whole (an outage: PostgreSQL restarting, a connection cut) is kept and written
 * again with the next flush, one at least every second, up to `maxRetained` rows: an async
 * invocation's outcome outlives a database restart, and an outage cannot grow memory without bound.
 * Finished records also feed this process's per-minute metrics rollups (in memory), written as
 * one batched upsert at most every rollupFlushMs, apart from the records' own writes.
 */
export class Recorder {
  readonly #options: RecorderOptions;
  #invocations: NewInvocation[] = [];
  #logs: Insertable<LogsTable>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  /** The write that has not started yet: later flush() calls join it. */
  #next: Promise<void> | undefined;
  /** When the last write started (performance.now()), for minWriteIntervalMs. */
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  /** Rows of batches that failed as a whole, oldest first, written again with the next flush. */
  #retained: { invocations: NewInvocation[]; logs: Insertable<LogsTable>[] } | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #rollup: MetricsRollup | undefined;
  #rollupTimer: NodeJS.Timeout | undefined;
  /** Rollup writes, one at a time. */
  #rollupWriting: Promise<void> = Promise.resolve();

  constructor(options: RecorderOptions) {
    this.#options = options;
    this.#rollup = options.rollups === false ? undefined : new MetricsRollup();
  }

  record(invocation: NewInvocation | null, logs: readonly Insertable<LogsTable>[] = []): void {
    if (invocation) {
      this.#invocations.push(invocation);
      const rollup = this.#rollup;
      if (rollup) {
        rollup.observe(invocation);
        if (!this.#rollupTimer && rollup.dirty) {
          this.#rollupTimer = setTimeout(
            () => void this.#writeRollups(),
            this.#options.rollupFlushMs ?? 1000,
          );
          this.#rollupTimer.unref();
        }
      }
    }
    for (const line of logs) this.#logs.push(line);
    if (this.#invocations.length + this.#logs.length >= (this.#options.maxBatch ?? 1000)) {
      void this.flush();
    } else if (!this.#timer && this.#invocations.length + this.#logs.length > 0) {
      this.#timer = setTimeout(() => void this.flush(), this.#options.flushMs);
      this.#timer.unref();
    }
  }

  /** Writes everything buffered so far; resolves when it is in the database. */
  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    // Group commit: the batch is taken when this link of the chain runs, not when flush() was
    // called, and a write starts no earlier than the end of the current event-loop turn, so every
    // caller of one turn (each async enqueue and ack waits for its record) shares one statement.
    if (!this.#next) {
      this.#next = this.#flushing.then(
        () =>
          new Promise<void>((resolve) => {
            const go = () => {
              this.#next = undefined;
              this.#lastWriteAt = performance.now();
              resolve(this.#write());
            };
            const wait = this.#lastWriteAt + (this.#options.minWriteIntervalMs ?? 0) - performance.now();
            if (wait >= 1) setTimeout(go, wait);
            else setImmediate(go);
          }),
      );
      this.#flushing = this.#next;
    }
    return this.#next;
  }

  /** Writes buffered records, then the metrics rollups now (shutdown, tests). */
  async drain(): Promise<void> {
    await this.flush();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#writeRollups(true);
  }

  /** `final`: every peak in flight is swept now, including those of minutes still going. */
  #writeRollups(final = false): Promise<void> {
    if (this.#rollupTimer) {
      clearTimeout(this.#rollupTimer);
      this.#rollupTimer = undefined;
    }
    const rollup = this.#rollup;
    if (!rollup) return Promise.resolve();
    this.#rollupWriting = this.#rollupWriting.then(async () => {
      try {
        await rollup.flush(this.#options.db, { final });
      } catch (error) {
        this.#options.onError(error);
      }
      const dropped = rollup.takeDropped();
      if (dropped > 0)
        this.#options.onError(
          new Error(`metrics rollups: ${dropped} record(s) left out (too many cells held)`),
        );
      // Still changed (a failed write, records that came meanwhile): written again later.
      if (rollup.dirty && !this.#rollupTimer) {
        this.#rollupTimer = setTimeout(() => void this.#writeRollups(), this.#options.rollupFlushMs ?? 1000);
        this.#rollupTimer.unref();
      }
    });
    return this.#rollupWriting;
  }

  async #write(): Promise<void> {
    const invocations = this.#invocations;
    const logs = this.#logs;
    this.#invocations = [];
    this.#logs = [];
    const retained = this.#retained;
    this.#retained = undefined;
    const batchInvocations = retained ? [...retained.invocations, ...invocations] : invocations;
    const batchLogs = retained ? [...retained.logs, ...logs] : logs;
    if (batchInvocations.length === 0 && batchLogs.length === 0) return;
    try {
      await writeRecords(this.#options.db, batchInvocations, batchLogs, {
        onRejected: this.#options.onRejected ?? ((r) => this.#options.onError(r.error)),
      });
    } catch (error) {
      this.#options.onError(error);
      this.#retain(batchInvocations, batchLogs);
    }
  }

  /** Keeps a failed batch (bounded, oldest dropped) and makes sure it is tried again soon. */
  #retain(invocations: NewInvocation[], logs: Insertable<LogsTable>[]): void {
    const max = this.#options.maxRetained ?? 100_000;
    const over = invocations.length + logs.length - max;
    if (over > 0) {
      // Log lines go first: an invocation's record is what says it ran.
      const fromLogs = Math.min(over, logs.length);
      logs = logs.slice(fromLogs);
      invocations = invocations.slice(over - fromLogs);
      this.#options.onError(new Error(`database unreachable: ${over} buffered record(s) dropped`));
    }
    this.#retained = { invocations, logs };
    if (!this.#retryTimer) {
      this.#retryTimer = setTimeout(
        () => {
          this.#retryTimer = undefined;
          if (this.#retained) void this.flush();
        },
        Math.min(1000, Math.max(100, this.#options.flushMs)),
      );
      this.#retryTimer.unref();
    }
  }
}
