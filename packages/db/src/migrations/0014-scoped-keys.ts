import type { Kysely } from "kysely";

/**
 * Scoped and expiring API keys: `functions` limits a key to the named functions of its tenant
 * (null: every function), `expires_at` ends it without a revocation (null: never).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("api_keys")
    .addColumn("functions", "jsonb")
    .addColumn("expires_at", "timestamptz")
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("api_keys").dropColumn("functions").dropColumn("expires_at").execute();
}
