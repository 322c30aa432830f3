import { type Kysely, sql } from "kysely";

/**
 * Container builds: a version of a container runtime records the digest of its code tree (the
 * /var/task contents with dependencies installed, stored as a "code-tar" artifact) so stem cells can
 * be initialized without the image. Null for edge versions and custom images.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("versions").addColumn("code_artifact", "text").execute();
  // The restart sweep looks for deployments that never finished.
  await db.schema
    .createIndex("deployments_unfinished_idx")
    .on("deployments")
    .column("created_at")
    .where(sql.ref("finished_at"), "is", null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("deployments_unfinished_idx").ifExists().execute();
  await db.schema.alterTable("versions").dropColumn("code_artifact").execute();
}
