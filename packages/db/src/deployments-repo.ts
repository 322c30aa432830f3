import { newId } from "@kumo/core";
import { type Kysely, sql } from "kysely";
import { decodeIdCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, DeploymentRow, DeploymentStatus } from "./schema.ts";

const MAX_LOG_CHARS = 1_000_000;

export class DeploymentsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async create(input: {
    functionId: string;
    sourceKind: string;
    createdBy: string | null;
  }): Promise<DeploymentRow> {
    return this.#db
      .insertInto("deployments")
      .values({
        id: newId("dep"),
        tenant_id: this.#tenantId,
        function_id: input.functionId,
        status: "queued",
        source_kind: input.sourceKind,
        created_by: input.createdBy,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async get(functionId: string, id: string): Promise<DeploymentRow | undefined> {
    return this.#db
      .selectFrom("deployments")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  async list(functionId: string, page: PageOptions): Promise<Page<DeploymentRow>> {
    let query = this.#db
      .selectFrom("deployments")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      // Ids start with their creation time (newId), so id order is creation order.
      .orderBy("id", "desc")
      .limit(page.limit + 1);
    if (page.cursor) {
      const id = decodeIdCursor(page.cursor, "dep");
      query = query.where("id", "<", id);
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.id],
      (r) => r,
    );
  }

  async appendLog(id: string, text: string): Promise<void> {
    await this.#db
      .updateTable("deployments")
      .set({ log: sql<string>`right(log || ${text}, ${MAX_LOG_CHARS})` })
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .execute();
  }

  async setStatus(
    id: string,
    status: DeploymentStatus,
    extra: { sourceDigest?: string; version?: number; errorCode?: string; errorMessage?: string } = {},
  ): Promise<DeploymentRow | undefined> {
    const done = status === "succeeded" || status === "failed";
    return this.#db
      .updateTable("deployments")
      .set({
        status,
        ...(extra.sourceDigest === undefined ? {} : { source_digest: extra.sourceDigest }),
        ...(extra.version === undefined ? {} : { version: extra.version }),
        ...(extra.errorCode === undefined ? {} : { error_code: extra.errorCode }),
        ...(extra.errorMessage === undefined ? {} : { error_message: extra.errorMessage }),
        ...(done ? { finished_at: new Date() } : {}),
      })
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
  }
}
