import { type Kysely, sql } from "kysely";

/**
 * Searchable function logs (issue 13, "Logs").
 *
 * - `logs.fields`: a line the function wrote as a JSON object, kept as jsonb; `logs.version`: the
 *   version that wrote it (the `version` filter without a join to invocations).
 * - Newest-first paging reads `(function_id, ts, id)`; a level filter `(function_id, level, ts, id)`;
 *   the retention purge `(tenant_id, ts)`. The old `(tenant_id, function_id, id)` index ordered by
 *   id, which is not time order across writers, so it goes.
 * - Text search is a case-insensitive substring match (`ILIKE`, grep semantics: parts of ids, paths,
 *   `key=value` pairs) served by a pg_trgm GIN index on `message`. Full-text search would index
 *   words with stemming, which misses exactly those substrings. pg_trgm is a contrib extension: when
 *   the database refuses `create extension` (no privilege, not installed), the index is left out and
 *   searches still work, only unindexed. The extension lives in `public` (or wherever it already
 *   is), so dropping one schema of a shared database never drops it under the others.
 * - `tenants.log_retention_days`: a tenant's own retention; null means the installation's default.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("logs").addColumn("fields", "jsonb").execute();
  await db.schema.alterTable("logs").addColumn("version", "integer").execute();
  await db.schema.alterTable("tenants").addColumn("log_retention_days", "integer").execute();

  await db.schema.dropIndex("logs_function_idx").ifExists().execute();
  await db.schema
    .createIndex("logs_function_ts_idx")
    .on("logs")
    .columns(["function_id", "ts", "id"])
    .execute();
  await db.schema
    .createIndex("logs_function_level_ts_idx")
    .on("logs")
    .columns(["function_id", "level", "ts", "id"])
    .execute();
  await db.schema.createIndex("logs_tenant_ts_idx").on("logs").columns(["tenant_id", "ts"]).execute();

  // A failed CREATE EXTENSION must not abort the migration's transaction: the block catches it.
  await sql`do $$
    begin
      if not exists (select 1 from pg_extension where extname = 'pg_trgm') then
        begin
          create extension if not exists pg_trgm with schema public;
        exception when others then
          raise notice 'pg_trgm unavailable (%): log search runs without its index', sqlerrm;
        end;
      end if;
    end $$`.execute(db);
  await sql`do $$
    declare ext_schema text;
    begin
      select n.nspname into ext_schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace
        where e.extname = 'pg_trgm';
      if ext_schema is not null then
        execute format('create index logs_message_trgm_idx on logs using gin (message %I.gin_trgm_ops)', ext_schema);
      end if;
    end $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("logs_message_trgm_idx").ifExists().execute();
  await db.schema.dropIndex("logs_tenant_ts_idx").ifExists().execute();
  await db.schema.dropIndex("logs_function_level_ts_idx").ifExists().execute();
  await db.schema.dropIndex("logs_function_ts_idx").ifExists().execute();
  await db.schema
    .createIndex("logs_function_idx")
    .on("logs")
    .columns(["tenant_id", "function_id", "id"])
    .execute();
  await db.schema.alterTable("tenants").dropColumn("log_retention_days").execute();
  await db.schema.alterTable("logs").dropColumn("version").execute();
  await db.schema.alterTable("logs").dropColumn("fields").execute();
}
