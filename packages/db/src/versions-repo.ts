import { newId } from "@kumo/core";
import { type Kysely, sql } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, VersionChanges, VersionRow } from "./schema.ts";

export interface NewVersion {
  functionId: string;
  runtime: string;
  sourceDigest: string;
  artifact: string;
  config: unknown;
  deploymentId: string | null;
  createdBy: string | null;
  changes?: VersionChanges;
  /** Digest of the version's "code-tar" artifact (container builds). */
  codeArtifact?: string | null;
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
            changes: input.changes ? JSON.stringify(input.changes) : null,
            code_artifact: input.codeArtifact ?? null,
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
      const [version] = decodeCursor(page.cursor, ["int"]);
      query = query.where("version", "<", version);
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.version],
      (r) => r,
    );
  }

  /**
   * Retention: deletes the oldest versions beyond `keep`, skipping every version in `protect` (aliased
   * or in a running rollout), so fewer may go than asked. Artifacts no version of the tenant uses any
   * more go with them. Returns the deleted version numbers, oldest first.
   */
  async prune(functionId: string, keep: number, protect: ReadonlySet<number>): Promise<number[]> {
    const rows = await this.#db
      .selectFrom("versions")
      .select(["version", "artifact", "code_artifact", "source_digest"])
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .orderBy("version", "asc")
      .execute();
    let excess = rows.length - keep;
    const doomed: {
      version: number;
      artifact: string;
      code_artifact: string | null;
      source_digest: string;
    }[] = [];
    for (const row of rows) {
      if (excess <= 0) break;
      if (protect.has(row.version)) continue;
      doomed.push(row);
      excess--;
    }
    if (doomed.length === 0) return [];
    const deleted = await this.#db
      .deleteFrom("versions")
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .where(
        "version",
        "in",
        doomed.map((d) => d.version),
      )
      // Checked again in the statement itself: an alias or rollout that took a version since the
      // caller looked keeps it.
      .where(
        sql<boolean>`not exists (
          select 1 from aliases a, jsonb_array_elements(a.routing) e
          where a.function_id = versions.function_id and (e->>'version')::int = versions.version)`,
      )
      .where(
        sql<boolean>`not exists (
          select 1 from rollouts r
          where r.function_id = versions.function_id and r.status = 'running'
            and versions.version in (r.from_version, r.to_version))`,
      )
      .returning("version")
      .execute();
    const gone = new Set(deleted.map((d) => d.version));
    if (gone.size === 0) return [];
    // Bundles, code trees and stored sources (keyed by the source digest) of the deleted versions.
    const artifacts = [
      ...new Set(
        doomed
          .filter((d) => gone.has(d.version))
          .flatMap((d) => [d.artifact, d.source_digest, ...(d.code_artifact ? [d.code_artifact] : [])]),
      ),
    ];
    await this.#db
      .deleteFrom("artifacts")
      .where("tenant_id", "=", this.#tenantId)
      .where("digest", "in", artifacts)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("versions")
              .select("versions.id")
              .where("versions.tenant_id", "=", this.#tenantId)
              .where((eb) =>
                eb.or([
                  eb("versions.artifact", "=", eb.ref("artifacts.digest")),
                  eb("versions.code_artifact", "=", eb.ref("artifacts.digest")),
                  eb("versions.source_digest", "=", eb.ref("artifacts.digest")),
                ]),
              ),
          ),
        ),
      )
      .execute();
    return doomed.filter((d) => gone.has(d.version)).map((d) => d.version);
  }
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "23505";
}
