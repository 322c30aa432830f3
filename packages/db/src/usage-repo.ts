import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** Bytes a tenant stores: deployed sources and build outputs (artifacts), and function logs. */
export interface StoredBytes {
  sources: number;
  logs: number;
}

/**
 * What a tenant uses of the quota-limited resources, counted from the tables (management paths
 * and `GET /v1/usage`; never on an invocation's path).
 */
export class UsageRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async functionCount(): Promise<number> {
    const row = await this.#db
      .selectFrom("functions")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("tenant_id", "=", this.#tenantId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Versions kept per function: the largest count, and of which function. */
  async mostVersions(): Promise<{ functionId: string | null; count: number }> {
    const row = await this.#db
      .selectFrom("versions")
      .select(["function_id", (eb) => eb.fn.countAll<string>().as("n")])
      .where("tenant_id", "=", this.#tenantId)
      .groupBy("function_id")
      .orderBy("n", "desc")
      .limit(1)
      .executeTakeFirst();
    return { functionId: row?.function_id ?? null, count: Number(row?.n ?? 0) };
  }

  async versionCount(functionId: string): Promise<number> {
    const row = await this.#db
      .selectFrom("versions")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("tenant_id", "=", this.#tenantId)
      .where("function_id", "=", functionId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Build time of the deployments started since `since`, in ms: each one's queued-to-finished time,
   * or queued-to-now while it still runs.
   */
  async buildMsSince(since: Date, now: Date = new Date()): Promise<number> {
    const row = await sql<{ ms: string | null }>`
      select sum(extract(epoch from (coalesce(finished_at, ${now}) - created_at)) * 1000) as ms
      from deployments where tenant_id = ${this.#tenantId} and created_at >= ${since}
    `.execute(this.#db);
    return Math.max(0, Math.round(Number(row.rows[0]?.ms ?? 0)));
  }

  async storedBytes(): Promise<StoredBytes> {
    const row = await sql<{ sources: string | null; logs: string | null }>`
      select
        (select sum(size) from artifacts where tenant_id = ${this.#tenantId}) as sources,
        (select sum(octet_length(message)) from logs where tenant_id = ${this.#tenantId}) as logs
    `.execute(this.#db);
    return { sources: Number(row.rows[0]?.sources ?? 0), logs: Number(row.rows[0]?.logs ?? 0) };
  }

  /** Invocations the metrics rollups counted since `since` (what the recorders have written so far). */
  async invocationsSince(since: Date): Promise<number> {
    const row = await this.#db
      .selectFrom("function_metrics_minute")
      .select((eb) => eb.fn.sum<string | null>("invocations").as("n"))
      .where("tenant_id", "=", this.#tenantId)
      .where("minute", ">=", since)
      .executeTakeFirstOrThrow();
    return Number(row.n ?? 0);
  }
}
