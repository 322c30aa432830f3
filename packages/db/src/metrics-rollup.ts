import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import {
  aggregateColumns,
  aggregateOfRow,
  type MetricAggregate,
  mergeAggregate,
  newAggregate,
  replacedMetricColumns,
} from "./metric-aggregate.ts";
import type { Database, NewInvocation } from "./schema.ts";

export interface MetricsRollupOptions {
  /** Names this writer's rows; default a random id per process. */
  writerId?: string;
  /** Minutes a written cell stays in memory for records that finish late. Default 3. */
  keepMinutes?: number;
  /** Cells held at most (a database outage must not grow memory without bound). Default 20,000. */
  maxCells?: number;
  now?: () => number;
}

/** One (tenant, function, version, trigger kind, minute) of this writer. */
interface Cell {
  key: string;
  tenantId: string;
  functionId: string;
  version: number;
  trigger: string;
  minute: number;
  aggregate: MetricAggregate;
  /**
   * Run intervals of this writer's invocations overlapping the minute (clipped to it), as sorted
   * independently starts and ends; the cell's peak in flight is swept from them when it is written.
   */
  starts: number[];
  ends: number[];
  /** Intervals were added since the peak was last swept. */
  peakOwed: boolean;
  /** When the peak was last swept. */
  peakAt: number;
  /** Changed since it was last written. */
  dirty: boolean;
  /**
   * Created after its minute had left memory: the row may hold earlier records of this writer,
   * so it is read and merged before it is written (safe: no other process writes this row).
   */
  merge: boolean;
}

const MINUTE_MS = 60_000;
/** Rows per upsert statement: 33 parameters each, far under PostgreSQL's limit. */
const ROWS_PER_STATEMENT = 500;
/** An invocation that failed with no code was a 5xx answer of the function: a runtime error. */
const UNCODED_FAILURE = "FN_004";
const THROTTLED = "FN_007";
/** An invocation counts in flight in at most this many minutes before the one it finished in. */
const MAX_SPAN_MINUTES = 60;
/**
 * The peak of a minute still going is swept at most this often (each sweep sorts the minute's
 * intervals); an ended minute's is swept at its next flush, so stored peaks are exact after it.
 */
const PEAK_EVERY_MS = 10_000;

function cellKey(
  minute: number,
  tenantId: string,
  functionId: string,
  version: number,
  trigger: string,
): string {
  return `${minute}\u0000${tenantId}\u0000${functionId}\u0000${version}\u0000${trigger}`;
}

/**
 * Per-minute metrics of the invocations one writer process records, kept in memory and written as
 * whole rows keyed by this writer's id. Observing a record is a map lookup and a sketch insert on
 * the recording process (no database work); rows are written in batches by flush(). Only final
 * records count: a succeeded or failed invocation (in the minute it finished), and an async
 * attempt queued again for a retry (as a retry).
 */
export class MetricsRollup {
  readonly writerId: string;
  readonly #cells = new Map<string, Cell>();
  readonly #keepMs: number;
  readonly #maxCells: number;
  readonly #now: () => number;
  /** Minutes before this may have left memory. */
  #evictedBefore = Number.NEGATIVE_INFINITY;
  #dirty = 0;
  /** Cells whose peak is owed (see Cell.peakOwed). */
  #owed = 0;
  #dropped = 0;

  constructor(options: MetricsRollupOptions = {}) {
    this.writerId = options.writerId ?? `w_${randomBytes(8).toString("hex")}`;
    this.#keepMs = (options.keepMinutes ?? 3) * MINUTE_MS;
    this.#maxCells = options.maxCells ?? 20_000;
    this.#now = options.now ?? Date.now;
  }

  /** Whether observed records wait to be written. */
  get dirty(): boolean {
    return this.#dirty > 0 || this.#owed > 0;
  }

  /** Observations dropped because too many cells were held; read and reset. */
  takeDropped(): number {
    const dropped = this.#dropped;
    this.#dropped = 0;
    return dropped;
  }

  observe(record: NewInvocation): void {
    const status = record.status;
    const retry = status === "queued" && record.error_code != null && (record.record_seq ?? 0) > 0;
    if (!retry && status !== "succeeded" && status !== "failed") return;
    const finished = record.finished_at;
    if (finished == null) return;
    const at = finished instanceof Date ? finished.getTime() : Date.parse(finished);
    if (Number.isNaN(at)) return;
    const minute = at - (at % MINUTE_MS);
    const cell = this.#cell(record, minute);
    if (!cell) return;
    const a = cell.aggregate;
    if (retry) {
      a.retries++;
      return;
    }
    this.#inFlight(record, cell, at);
    a.invocations++;
    if (status === "failed") {
      const code = record.error_code ?? UNCODED_FAILURE;
      a.errors[code] = (a.errors[code] ?? 0) + 1;
      if (code === THROTTLED) a.throttles++;
    }
    if (record.dead_letter_seq != null) a.deadLetters++;
    const cold = record.cold_start;
    if (cold != null && cold !== "warm") a.coldStarts[cold] = (a.coldStarts[cold] ?? 0) + 1;
    if (record.duration_ms != null && record.duration_ms >= 0) a.duration.accept(record.duration_ms);
    // Only async records (record_seq > 0) waited in the work queue; a sync queue_ms is a pool wait.
    if ((record.record_seq ?? 0) > 0 && record.queue_ms != null && record.queue_ms >= 0)
      a.queue.accept(record.queue_ms);
    if (record.cpu_ms != null && record.cpu_ms >= 0) a.cpu.accept(record.cpu_ms);
    if (record.memory_bytes != null && record.memory_bytes >= 0) a.memory.accept(record.memory_bytes);
  }

  /** The cell of the record's series in `minute`, marked changed; undefined when too many are held. */
  #cell(record: NewInvocation, minute: number): Cell | undefined {
    const version = record.version ?? 0;
    const key = cellKey(minute, record.tenant_id, record.function_id, version, record.trigger);
    let cell = this.#cells.get(key);
    if (!cell) {
      if (this.#cells.size >= this.#maxCells) {
        this.#dropped++;
        return undefined;
      }
      cell = {
        key,
        tenantId: record.tenant_id,
        functionId: record.function_id,
        version,
        trigger: record.trigger,
        minute,
        aggregate: newAggregate(),
        starts: [],
        ends: [],
        peakOwed: false,
        peakAt: Number.NEGATIVE_INFINITY,
        dirty: false,
        merge: minute < this.#evictedBefore,
      };
      this.#cells.set(key, cell);
    }
    if (!cell.dirty) {
      cell.dirty = true;
      this.#dirty++;
    }
    return cell;
  }

  /**
   * The record's run [start, end) joins the in-flight intervals of every minute it overlaps. A sync
   * record's run is from started_at for its exact duration (finished_at is whole ms, so
   * back-to-back sub-millisecond invocations do not count as concurrent); an async record's
   * started_at is when it was queued, so its run is the duration before finished_at.
   */
  #inFlight(record: NewInvocation, cell: Cell, finished: number): void {
    const duration = record.duration_ms;
    if (duration == null || duration < 0) return;
    let start: number;
    let end: number;
    if ((record.record_seq ?? 0) > 0) {
      end = finished;
      start = finished - duration;
    } else {
      const startedAt = record.started_at;
      start = startedAt instanceof Date ? startedAt.getTime() : Date.parse(startedAt);
      if (Number.isNaN(start) || start > finished) return;
      end = start + Math.max(duration, 0.001);
    }
    let minute = cell.minute;
    let into: Cell | undefined = cell;
    for (let n = 0; into && n <= MAX_SPAN_MINUTES; n++) {
      const to = Math.min(end, minute + MINUTE_MS);
      const from = Math.max(start, minute);
      if (to > from) {
        into.starts.push(from);
        into.ends.push(to);
        if (!into.peakOwed) {
          into.peakOwed = true;
          this.#owed++;
        }
      }
      if (start >= minute) return;
      minute -= MINUTE_MS;
      into = this.#cell(record, minute);
    }
  }

  /**
   * Writes every changed cell as its whole row (late cells merged with their stored row first),
   * then forgets written cells older than keepMinutes. A failed write leaves the cells changed for
   * the next flush. Callers run one flush at a time.
   */
  async flush(db: Kysely<Database>, options: { final?: boolean } = {}): Promise<void> {
    const now = this.#now();
    const final = options.final === true;
    const horizon = now - (now % MINUTE_MS) - this.#keepMs;
    const due = (c: Cell) =>
      c.peakOwed && (final || c.minute + MINUTE_MS <= now || now - c.peakAt >= PEAK_EVERY_MS);
    const cells = [...this.#cells.values()].filter((c) => c.dirty || due(c));
    if (cells.length > 0) {
      await this.#mergeStored(
        db,
        cells.filter((c) => c.merge),
      );
      for (const c of cells) {
        if (!due(c)) continue;
        c.aggregate.maxInFlight = Math.max(c.aggregate.maxInFlight, peakOf(c));
        c.peakOwed = false;
        c.peakAt = now;
        this.#owed--;
      }
      const rows = cells.map((c) =>
        Object.assign(
          {
            tenant_id: c.tenantId,
            function_id: c.functionId,
            version: c.version,
            trigger: c.trigger,
            minute: new Date(c.minute),
            writer_id: this.writerId,
            compacted: false,
          },
          aggregateColumns(c.aggregate),
        ),
      );
      // Observations during the write mark their cell changed again.
      for (const c of cells) {
        if (!c.dirty) continue;
        c.dirty = false;
        this.#dirty--;
      }
      try {
        for (let at = 0; at < rows.length; at += ROWS_PER_STATEMENT) {
          await db
            .insertInto("function_metrics_minute")
            .values(rows.slice(at, at + ROWS_PER_STATEMENT))
            .onConflict((oc) =>
              oc
                .columns(["tenant_id", "function_id", "minute", "version", "trigger", "writer_id"])
                .doUpdateSet(() => ({
                  ...replacedMetricColumns(),
                  // A late write to an hour already compacted puts the row back in line for compaction.
                  compacted: false,
                })),
            )
            .execute();
        }
      } catch (error) {
        for (const c of cells) {
          if (!c.dirty) {
            c.dirty = true;
            this.#dirty++;
          }
        }
        throw error;
      }
    }
    for (const [key, cell] of this.#cells) {
      if (!cell.dirty && !cell.peakOwed && cell.minute < horizon) this.#cells.delete(key);
    }
    this.#evictedBefore = Math.max(this.#evictedBefore, horizon);
  }

  /** Late cells: what this writer stored for them before is read and merged in. */
  async #mergeStored(db: Kysely<Database>, cells: Cell[]): Promise<void> {
    if (cells.length === 0) return;
    const stored = await db
      .selectFrom("function_metrics_minute")
      .selectAll()
      .where("writer_id", "=", this.writerId)
      .where((eb) =>
        eb.or(
          cells.map((c) =>
            eb.and([
              eb("tenant_id", "=", c.tenantId),
              eb("function_id", "=", c.functionId),
              eb("minute", "=", new Date(c.minute)),
              eb("version", "=", c.version),
              eb("trigger", "=", c.trigger),
            ]),
          ),
        ),
      )
      .execute();
    const byKey = new Map(
      stored.map((r) => [cellKey(r.minute.getTime(), r.tenant_id, r.function_id, r.version, r.trigger), r]),
    );
    for (const c of cells) {
      const row = byKey.get(c.key);
      if (row) mergeAggregate(c.aggregate, aggregateOfRow(row));
      c.merge = false;
    }
  }
}

/** The most of the cell's intervals that overlap at one instant (an end before a start at a tie). */
function peakOf(cell: Cell): number {
  const { starts, ends } = cell;
  // Appended in about finishing order, so each sort after the first is nearly linear (TimSort).
  starts.sort(byValue);
  ends.sort(byValue);
  let running = 0;
  let peak = 0;
  let j = 0;
  for (const start of starts) {
    while (j < ends.length && (ends[j] as number) <= start) {
      running--;
      j++;
    }
    running++;
    if (running > peak) peak = running;
  }
  return peak;
}

const byValue = (a: number, b: number) => a - b;
