import type { Insertable, Kysely } from "kysely";
import { type RejectedRecord, writeRecords } from "./record-writer.ts";
import type { Database, LogsTable, NewInvocation } from "./schema.ts";

export interface RecorderOptions {
  db: Kysely<Database>;
  flushMs: number;
  /** Above this many buffered records a flush starts at once. */
  maxBatch?: number;
  onError: (error: unknown) => void;
  /** A record or log line the database refused on its own; the rest of its batch was written. */
  onRejected?: (rejected: RejectedRecord) => void;
}

/**
 * Buffers invocation records and log lines and writes them in batches, off the request path. The
 * gateway (sync records) and every autoscaler (async records, container logs) each run one.
 * A row the database refuses for its data is set aside and reported (see writeRecords); a batch
 * that fails as a whole (an outage) is retried once with the next flush, beyond that it is dropped
 * and reported, so a database outage cannot grow memory without bound.
 */
export class Recorder {
  readonly #options: RecorderOptions;
  #invocations: NewInvocation[] = [];
  #logs: Insertable<LogsTable>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  /** The write that has not started yet: later flush() calls join it. */
  #next: Promise<void> | undefined;
  #retry: { invocations: NewInvocation[]; logs: Insertable<LogsTable>[] } | undefined;

  constructor(options: RecorderOptions) {
    this.#options = options;
  }

  record(invocation: NewInvocation | null, logs: readonly Insertable<LogsTable>[] = []): void {
    if (invocation) this.#invocations.push(invocation);
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
            setImmediate(() => {
              this.#next = undefined;
              resolve(this.#write());
            });
          }),
      );
      this.#flushing = this.#next;
    }
    return this.#next;
  }

  async #write(): Promise<void> {
    const invocations = this.#invocations;
    const logs = this.#logs;
    this.#invocations = [];
    this.#logs = [];
    const retry = this.#retry;
    this.#retry = undefined;
    const batchInvocations = retry ? [...retry.invocations, ...invocations] : invocations;
    const batchLogs = retry ? [...retry.logs, ...logs] : logs;
    if (batchInvocations.length === 0 && batchLogs.length === 0) return;
    try {
      await writeRecords(this.#options.db, batchInvocations, batchLogs, {
        onRejected: this.#options.onRejected ?? ((r) => this.#options.onError(r.error)),
      });
    } catch (error) {
      this.#options.onError(error);
      if (!retry) this.#retry = { invocations, logs };
    }
  }
}
