import type { QueueTriggerSettings } from "@kumo/core";
import { type Kysely, sql } from "kysely";
import type { Database, InvocationStatus, TriggerRow } from "./schema.ts";

/** A queue trigger as its consumer needs it. */
export interface QueueTriggerRow extends TriggerRow {
  function_name: string;
  settings: QueueTriggerSettings;
}

/** The batch a queue trigger has handed to its function and not yet settled (kept across failovers). */
export interface InflightBatch {
  invocationId: string;
  msgId: string;
  /** The batch's messages at the source (stream sequences), in batch order. */
  refs: (string | number)[];
  round: number;
}

/** What a queue trigger's consumer reports in `source_state`. */
export interface QueueSourceState {
  lag?: number | null;
  lastBatchAt?: string | null;
  error?: string | null;
  inflight?: InflightBatch | null;
}

/** The final outcome of a batch's invocation, read from its record. */
export interface BatchOutcome {
  status: InvocationStatus;
  result: Uint8Array | null;
  errorCode: string | null;
  errorMessage: string | null;
}

/**
 * Queue triggers across tenants, for the scheduler's consumers (and, per tenant, for the queue
 * listing): which exist, the state their consumers report, and the outcome of a batch's run.
 */
export class QueueTriggers {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Every queue trigger of every tenant (paused ones too: the consumer stops, the durable stays). */
  async all(): Promise<QueueTriggerRow[]> {
    return (await this.#select().execute()) as QueueTriggerRow[];
  }

  /** One tenant's queue triggers. */
  async ofTenant(tenantId: string): Promise<QueueTriggerRow[]> {
    return (await this.#select().where("t.tenant_id", "=", tenantId).execute()) as QueueTriggerRow[];
  }

  /**
   * Records a batch about to be published: the trigger's last fire and invocation, and the batch
   * itself, so the scheduler that takes over after a crash publishes it under the same id.
   */
  async begin(triggerId: string, batch: InflightBatch, firedAt: Date): Promise<void> {
    await this.#db
      .updateTable("triggers")
      .set({
        last_fired_at: firedAt,
        last_invocation_id: batch.invocationId,
        last_status: "queued",
        source_state: sql`coalesce(source_state, '{}'::jsonb) || ${JSON.stringify({ inflight: batch, lastBatchAt: firedAt.toISOString() })}::jsonb`,
        updated_at: new Date(),
      })
      .where("id", "=", triggerId)
      .execute();
  }

  /** Merges what the consumer reports into `source_state` (lag, error, the in-flight batch). */
  async report(triggerId: string, state: QueueSourceState): Promise<void> {
    await this.#db
      .updateTable("triggers")
      .set({
        source_state: sql`coalesce(source_state, '{}'::jsonb) || ${JSON.stringify(state)}::jsonb`,
      })
      .where("id", "=", triggerId)
      .execute();
  }

  /**
   * The trigger cannot consume (broker unreachable, secret missing, nothing deployed): its state
   * shows the error. Consecutive failures count once per distinct error, not per retry.
   */
  async failed(triggerId: string, message: string): Promise<void> {
    await this.#db
      .updateTable("triggers")
      .set({
        last_status: "error",
        last_error: message,
        consecutive_failures: sql`case when last_status = 'error' and last_error = ${message}
          then consecutive_failures else consecutive_failures + 1 end`,
        source_state: sql`coalesce(source_state, '{}'::jsonb) || ${JSON.stringify({ error: message })}::jsonb`,
        updated_at: new Date(),
      })
      .where("id", "=", triggerId)
      .execute();
  }

  /** The consumer works again: the error leaves the state (the next batch's outcome sets the status). */
  async recovered(triggerId: string): Promise<void> {
    await this.#db
      .updateTable("triggers")
      .set({
        last_status: sql`case when last_status = 'error' then null else last_status end`,
        last_error: sql`case when last_status = 'error' then null else last_error end`,
        source_state: sql`coalesce(source_state, '{}'::jsonb) || '{"error": null}'::jsonb`,
        updated_at: new Date(),
      })
      .where("id", "=", triggerId)
      .where(sql<boolean>`last_status = 'error' or source_state->>'error' is not null`)
      .execute();
  }

  /** A batch's invocation once it is final (succeeded, or failed after its retries); else undefined. */
  async outcome(tenantId: string, invocationId: string): Promise<BatchOutcome | undefined> {
    const row = await this.#db
      .selectFrom("invocations")
      .select(["status", "result", "error_code", "error_message"])
      .where("tenant_id", "=", tenantId)
      .where("id", "=", invocationId)
      .executeTakeFirst();
    if (!row || (row.status !== "succeeded" && row.status !== "failed")) return undefined;
    return {
      status: row.status,
      result: row.result,
      errorCode: row.error_code,
      errorMessage: row.error_message,
    };
  }

  /** Whether any record of the invocation exists (it was queued). */
  async exists(tenantId: string, invocationId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom("invocations")
      .select("id")
      .where("tenant_id", "=", tenantId)
      .where("id", "=", invocationId)
      .executeTakeFirst();
    return row !== undefined;
  }

  #select() {
    return this.#db
      .selectFrom("triggers as t")
      .innerJoin("functions as f", (j) =>
        j.onRef("f.id", "=", "t.function_id").onRef("f.tenant_id", "=", "t.tenant_id"),
      )
      .selectAll("t")
      .select("f.name as function_name")
      .where("t.kind", "=", "queue")
      .orderBy("t.id");
  }
}
