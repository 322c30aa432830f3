import { newId } from "@kumo/core";
import { type Kysely, sql } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, VersionRow } from "./schema.ts";

export interface NewVersion {
  functionId: string;
  runtime: string;
  sourceDigest: string;
  artifact: string;
  config: unknown;
  deploymentId: string | null;
  createdBy: string | null;
}

export class VersionsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  /**
   * Appends the next immutable version. The number is computed in the insert itself and the unique
   * (function_id, version) constraint makes concurrent deploys retry rather than collide silently.
   */
  async create(input: NewVersion): Promise<VersionRow> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#db
          .insertInto("versions")
          .values({
            id: newId("ver"),
            tenant_id: this.#tenantId,
            function_id: input.functionId,
            version: sql<number>`(select coalesce(max(version), 0) + 1 from versions where function_id = ${input.functionId})`,
            runtime: input.runtime,
            source_digest: input.sourceDigest,
            artifact: input.artifact,
            config: JSON.stringify(input.config),
            deployment_id: input.deploymentId,
            created_by: input.createdBy,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
      } catch (error) {
        if (attempt < 5 && isUniqueViolation(error)) continue;
        throw error;
      }
    }
  }

  async get(functionId: string, version: number): Promise<VersionRow | undefined> {
    return this.#db
      .selectFrom("versions")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("version", "=", version)
      .executeTakeFirst();
  }

  async latest(functionId: string): Promise<VersionRow | undefined> {
    return this.#db
      .selectFrom("versions")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .orderBy("version", "desc")
      .limit(1)
      .executeTakeFirst();
  }

  /** The newest version older than `before`, for rollback. */
  async previous(functionId: string, before: number): Promise<VersionRow | undefined> {
    return this.#db
      .selectFrom("versions")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where("version", "<", before)
      .orderBy("version", "desc")
      .limit(1)
      .executeTakeFirst();
  }

  async list(functionId: string, page: PageOptions): Promise<Page<VersionRow>> {
    let query = this.#db
      .selectFrom("versions")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .orderBy("version", "desc")
      .limit(page.limit + 1);
    if (page.cursor) {
      const [version] = decodeCursor(page.cursor, 1);
      query = query.where("version", "<", Number(version));
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.version],
      (r) => r,
    );
  }
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "23505";
}
