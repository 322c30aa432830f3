import type { Kysely } from "kysely";

/**
 * Settings of the installation itself, one row per key. The first is its identity
 * (`installation_id`), generated at first start: it names every NATS subject, stream, consumer and
 * bucket, so two installations sharing one NATS server never see each other's traffic.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("installation")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("installation").ifExists().execute();
}
