import { type Kysely, sql } from "kysely";

/**
 * The invocation plane: async attempts, stored results, dead letters and idempotency keys on the
 * invocation record. `record_seq` orders the writes of one invocation (queued < running < finished
 * per attempt), so batches from the gateway and from any autoscaler can land in any order.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("invocations")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("record_seq", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("result", "bytea")
    .addColumn("result_headers", "jsonb")
    .addColumn("idempotency_key", "text")
    .addColumn("dead_letter_seq", "bigint")
    .execute();
  await db.schema
    .createIndex("invocations_dead_letters_idx")
    .on("invocations")
    .columns(["tenant_id", "function_id", "finished_at desc", "id desc"])
    .where(sql.ref("dead_letter_seq"), "is not", null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("invocations_dead_letters_idx").ifExists().execute();
  for (const column of [
    "attempts",
    "record_seq",
    "result",
    "result_headers",
    "idempotency_key",
    "dead_letter_seq",
  ]) {
    await db.schema.alterTable("invocations").dropColumn(column).execute();
  }
}
