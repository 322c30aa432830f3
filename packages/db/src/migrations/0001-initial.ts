import { type Kysely, sql } from "kysely";

/**
 * The control plane's first schema. Every tenant-owned table carries tenant_id and every index the
 * API serves starts with it, so tenant scoping is also the cheapest access path.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("tenants")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) =>
      c.notNull().check(sql`role in ('admin','developer','invoker','viewer')`),
    )
    .addColumn("key_hash", "text", (c) => c.notNull().unique())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("created_by", "text")
    .addColumn("last_used_at", "timestamptz")
    .addColumn("revoked_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("api_keys_tenant_idx")
    .on("api_keys")
    .columns(["tenant_id", "created_at", "id"])
    .execute();

  await db.schema
    .createTable("functions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("runtime", "text", (c) => c.notNull())
    .addColumn("config", "jsonb", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("functions_tenant_name_key", ["tenant_id", "name"])
    .execute();

  await db.schema
    .createTable("versions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("function_id", "text", (c) => c.notNull().references("functions.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("runtime", "text", (c) => c.notNull())
    .addColumn("source_digest", "text", (c) => c.notNull())
    .addColumn("artifact", "text", (c) => c.notNull())
    .addColumn("config", "jsonb", (c) => c.notNull())
    .addColumn("deployment_id", "text")
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("versions_function_version_key", ["function_id", "version"])
    .execute();

  await db.schema
    .createTable("artifacts")
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("digest", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("content", "bytea", (c) => c.notNull())
    .addColumn("size", "integer", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("artifacts_pkey", ["tenant_id", "digest"])
    .execute();

  await db.schema
    .createTable("aliases")
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("function_id", "text", (c) => c.notNull().references("functions.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("routing", "jsonb", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_by", "text")
    .addPrimaryKeyConstraint("aliases_pkey", ["function_id", "name"])
    .execute();

  await db.schema
    .createTable("env_vars")
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("function_id", "text", (c) => c.notNull().references("functions.id").onDelete("cascade"))
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("env_vars_pkey", ["function_id", "key"])
    .execute();

  await db.schema
    .createTable("secrets")
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("sealed", "bytea", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("deleted_at", "timestamptz")
    .addPrimaryKeyConstraint("secrets_pkey", ["tenant_id", "name", "version"])
    .execute();

  await db.schema
    .createTable("deployments")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("function_id", "text", (c) => c.notNull().references("functions.id").onDelete("cascade"))
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("source_kind", "text", (c) => c.notNull())
    .addColumn("source_digest", "text")
    .addColumn("version", "integer")
    .addColumn("error_code", "text")
    .addColumn("error_message", "text")
    .addColumn("log", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("finished_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("deployments_function_idx")
    .on("deployments")
    .columns(["tenant_id", "function_id", "created_at"])
    .execute();

  await db.schema
    .createTable("invocations")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull())
    .addColumn("function_id", "text", (c) => c.notNull())
    .addColumn("version_id", "text")
    .addColumn("version", "integer")
    .addColumn("trigger", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("error_code", "text")
    .addColumn("error_message", "text")
    .addColumn("status_code", "integer")
    .addColumn("duration_ms", "double precision")
    .addColumn("cold_start", "text")
    .addColumn("queue_ms", "double precision")
    .addColumn("request_bytes", "integer")
    .addColumn("response_bytes", "integer")
    .addColumn("trace_id", "text")
    .addColumn("started_at", "timestamptz", (c) => c.notNull())
    .addColumn("finished_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("invocations_function_idx")
    .on("invocations")
    .columns(["tenant_id", "function_id", "started_at desc", "id desc"])
    .execute();

  await db.schema
    .createTable("logs")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull())
    .addColumn("function_id", "text", (c) => c.notNull())
    .addColumn("invocation_id", "text")
    .addColumn("ts", "timestamptz", (c) => c.notNull())
    .addColumn("level", "text", (c) => c.notNull())
    .addColumn("message", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("logs_function_idx")
    .on("logs")
    .columns(["tenant_id", "function_id", "id"])
    .execute();
  await db.schema.createIndex("logs_invocation_idx").on("logs").columns(["invocation_id"]).execute();

  await db.schema
    .createTable("audit_events")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("tenant_id", "text", (c) => c.notNull())
    .addColumn("actor", "text")
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("details", "jsonb", (c) => c.notNull())
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex("audit_events_tenant_idx")
    .on("audit_events")
    .columns(["tenant_id", "id"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    "audit_events",
    "logs",
    "invocations",
    "deployments",
    "secrets",
    "env_vars",
    "aliases",
    "artifacts",
    "versions",
    "functions",
    "api_keys",
    "tenants",
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
