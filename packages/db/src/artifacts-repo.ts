import type { Kysely } from "kysely";
import type { Database } from "./schema.ts";

/** Content-addressed build outputs small enough for the database (edge bundles). */
export class ArtifactsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async put(digest: string, kind: string, content: Uint8Array): Promise<void> {
    await this.#db
      .insertInto("artifacts")
      .values({ tenant_id: this.#tenantId, digest, kind, content, size: content.byteLength })
      .onConflict((oc) => oc.columns(["tenant_id", "digest"]).doNothing())
      .execute();
  }

  async get(digest: string): Promise<Uint8Array | undefined> {
    const row = await this.#db
      .selectFrom("artifacts")
      .select("content")
      .where("tenant_id", "=", this.#tenantId)
      .where("digest", "=", digest)
      .executeTakeFirst();
    return row?.content;
  }
}
