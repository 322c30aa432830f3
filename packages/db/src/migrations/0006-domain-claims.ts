import { type Kysely, sql } from "kysely";

/**
 * Custom-domain claims no longer lock a hostname: several tenants may hold a pending claim on one
 * hostname (a claim is a key per tenant), and only a verified claim is unique per hostname. Before,
 * the hostname was the key, so an unverified claim blocked every other tenant from it forever.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table domains drop constraint domains_pkey`.execute(db);
  await sql`alter table domains add constraint domains_pkey primary key (hostname, tenant_id)`.execute(db);
  await db.schema
    .createIndex("domains_verified_hostname_key")
    .on("domains")
    .column("hostname")
    .unique()
    .where(sql.ref("status"), "=", "verified")
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("domains_verified_hostname_key").ifExists().execute();
  // One claim per hostname again: keep the verified one, else the oldest pending one.
  await sql`delete from domains d where exists (
    select 1 from domains o where o.hostname = d.hostname and o.tenant_id <> d.tenant_id
      and (o.status = 'verified' and d.status <> 'verified'
        or o.status = d.status and (o.created_at, o.tenant_id) < (d.created_at, d.tenant_id)))`.execute(db);
  await sql`alter table domains drop constraint domains_pkey`.execute(db);
  await sql`alter table domains add constraint domains_pkey primary key (hostname)`.execute(db);
}
