import { type Kysely, sql } from "kysely";
import type { Database, TriggerRow, TriggerSlotRow } from "./schema.ts";

/** A slot and publication the scheduler made, as it registers them. */
export interface NewTriggerSlot {
  triggerId: string;
  tenantId: string;
  connectionSecret: string;
  sealedConnection: Uint8Array;
  slot: string;
  publication: string;
}

/** What a database trigger's stream reports into the trigger's state. */
export interface SourceReport {
  /** Shown as the trigger's `source_state` (slot, publication, confirmed LSN, error). */
  state: Record<string, unknown>;
  /** Set: the trigger cannot stream (state "error" with this message); null: it streams again. */
  error: string | null;
}

/**
 * The scheduler's view of database triggers across tenants: the trigger rows it streams for, the
 * registry of the slots and publications it made on tenants' servers (kept apart from the trigger
 * rows so a deleted trigger's slot is still known and gets dropped), and the source state it
 * reports. Not tenant-scoped: only the scheduler uses it.
 */
export class ReplicationSlots {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Every database trigger of every tenant, paused ones included. */
  async triggers(): Promise<TriggerRow[]> {
    return this.#db.selectFrom("triggers").selectAll().where("kind", "=", "database").orderBy("id").execute();
  }

  async registered(): Promise<TriggerSlotRow[]> {
    return this.#db.selectFrom("trigger_slots").selectAll().orderBy("trigger_id").execute();
  }

  /** Records a slot before it is created, so a crash right after leaves no unknown slot. */
  async register(slot: NewTriggerSlot): Promise<void> {
    await this.#db
      .insertInto("trigger_slots")
      .values({
        trigger_id: slot.triggerId,
        tenant_id: slot.tenantId,
        connection_secret: slot.connectionSecret,
        sealed_connection: slot.sealedConnection,
        slot: slot.slot,
        publication: slot.publication,
      })
      .onConflict((oc) =>
        oc.column("trigger_id").doUpdateSet({
          connection_secret: slot.connectionSecret,
          sealed_connection: slot.sealedConnection,
          updated_at: new Date(),
        }),
      )
      .execute();
  }

  async unregister(triggerId: string): Promise<void> {
    await this.#db.deleteFrom("trigger_slots").where("trigger_id", "=", triggerId).execute();
  }

  /**
   * Writes a stream's report into its trigger's state. Entering the error state (or a different
   * error) counts one consecutive failure, so a failure alert fires once per problem rather than
   * once per retry; leaving it clears the error.
   */
  async report(triggerId: string, report: SourceReport): Promise<void> {
    const error = report.error;
    await this.#db
      .updateTable("triggers")
      .set({
        source_state: JSON.stringify(report.state),
        ...(error !== null
          ? {
              last_status: "error" as const,
              last_error: error,
              consecutive_failures: sql<number>`case when last_status is distinct from 'error'
                or last_error is distinct from ${error} then consecutive_failures + 1
                else consecutive_failures end`,
            }
          : {
              last_status: sql<null>`case when last_status = 'error' then null else last_status end`,
              last_error: sql<null>`case when last_status = 'error' then null else last_error end`,
              consecutive_failures: sql<number>`case when last_status = 'error' then 0
                else consecutive_failures end`,
            }),
        updated_at: new Date(),
      })
      .where("id", "=", triggerId)
      .where("kind", "=", "database")
      .execute();
  }
}
