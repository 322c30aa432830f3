import type { Kysely } from "kysely";
import type { Database } from "./schema.ts";

/** What a tenant may use; each null (or absent) is "no limit of its own": the installation's default applies. */
export interface QuotaLimits {
  functions: number | null;
  versionsPerFunction: number | null;
  concurrency: number | null;
  invocationsPerDay: number | null;
  buildMinutesPerDay: number | null;
  storedBytes: number | null;
}

export const QUOTA_NAMES = [
  "functions",
  "versionsPerFunction",
  "concurrency",
  "invocationsPerDay",
  "buildMinutesPerDay",
  "storedBytes",
] as const satisfies readonly (keyof QuotaLimits)[];
export type QuotaName = (typeof QUOTA_NAMES)[number];

const NONE: QuotaLimits = {
  functions: null,
  versionsPerFunction: null,
  concurrency: null,
  invocationsPerDay: null,
  buildMinutesPerDay: null,
  storedBytes: null,
};

/** The tenant's own quotas, as the platform admin set them. */
export class QuotasRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  /** The tenant's own limits; every one null when none was ever set. */
  async get(): Promise<QuotaLimits> {
    const row = await this.#db
      .selectFrom("tenant_quotas")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .executeTakeFirst();
    if (!row) return { ...NONE };
    return {
      functions: row.functions,
      versionsPerFunction: row.versions_per_function,
      concurrency: row.concurrency,
      invocationsPerDay: row.invocations_per_day === null ? null : Number(row.invocations_per_day),
      buildMinutesPerDay: row.build_minutes_per_day,
      storedBytes: row.stored_bytes === null ? null : Number(row.stored_bytes),
    };
  }

  /** Replaces the tenant's limits (a null: back to the installation's default). */
  async set(limits: QuotaLimits, actor: string): Promise<QuotaLimits> {
    const values = {
      functions: limits.functions,
      versions_per_function: limits.versionsPerFunction,
      concurrency: limits.concurrency,
      invocations_per_day: limits.invocationsPerDay,
      build_minutes_per_day: limits.buildMinutesPerDay,
      stored_bytes: limits.storedBytes,
      updated_by: actor,
      updated_at: new Date(),
    };
    await this.#db
      .insertInto("tenant_quotas")
      .values({ tenant_id: this.#tenantId, ...values })
      .onConflict((oc) => oc.column("tenant_id").doUpdateSet(values))
      .execute();
    return this.get();
  }
}
