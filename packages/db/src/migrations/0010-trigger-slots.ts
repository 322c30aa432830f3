import { type Kysely, sql } from "kysely";

/**
 * Database triggers' replication slots and publications, registered by the scheduler when it
 * creates them on a tenant's PostgreSQL. A slot pins WAL on that server until it is dropped, so
 * this table deliberately has no foreign key to `triggers` or `tenants`: when a trigger row
 * vanishes (API delete, a deploy that removes it, the function's or tenant's deletion by
 * cascade), its registration stays behind and the scheduler drops the slot and publication, then
 * the row. `sealed_connection` is the scheduler's own sealed copy of the connection string, so the
 * slot can still be dropped after the tenant deleted the secret (or the tenant is gone).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("trigger_slots")
    .addColumn("trigger_id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull())
    .addColumn("connection_secret", "text", (c) => c.notNull())
    .addColumn("sealed_connection", "bytea", (c) => c.notNull())
    .addColumn("slot", "text", (c) => c.notNull())
    .addColumn("publication", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("trigger_slots").ifExists().execute();
}
