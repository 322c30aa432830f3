import { type Kysely, type Migration, type MigrationProvider, Migrator } from "kysely";
import * as initial from "./migrations/0001-initial.ts";
import * as routing from "./migrations/0002-routing.ts";
import * as containerBuilds from "./migrations/0003-container-builds.ts";
import * as invocationPlane from "./migrations/0004-invocation-plane.ts";
import * as installation from "./migrations/0005-installation.ts";
import * as domainClaims from "./migrations/0006-domain-claims.ts";
import * as triggers from "./migrations/0007-triggers.ts";
import * as eventTriggers from "./migrations/0008-event-triggers.ts";
import * as triggerSources from "./migrations/0009-trigger-sources.ts";
import * as triggerSlots from "./migrations/0010-trigger-slots.ts";
import * as functionMetrics from "./migrations/0011-function-metrics.ts";
import * as logSearch from "./migrations/0012-log-search.ts";
import * as alertRules from "./migrations/0013-alert-rules.ts";
import * as scopedKeys from "./migrations/0014-scoped-keys.ts";
import * as tenantQuotas from "./migrations/0015-tenant-quotas.ts";
import * as invocationUsage from "./migrations/0016-invocation-usage.ts";

/** Migrations are compiled in, so a running service never depends on a migrations folder on disk. */
const MIGRATIONS: Record<string, Migration> = {
  "0001-initial": initial,
  "0002-routing": routing,
  "0003-container-builds": containerBuilds,
  "0004-invocation-plane": invocationPlane,
  "0005-installation": installation,
  "0006-domain-claims": domainClaims,
  "0007-triggers": triggers,
  "0008-event-triggers": eventTriggers,
  "0009-trigger-sources": triggerSources,
  "0010-trigger-slots": triggerSlots,
  "0011-function-metrics": functionMetrics,
  "0012-log-search": logSearch,
  "0013-alert-rules": alertRules,
  "0014-scoped-keys": scopedKeys,
  "0015-tenant-quotas": tenantQuotas,
  "0016-invocation-usage": invocationUsage,
};

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export interface MigrateResult {
  applied: string[];
}

/** Brings the schema to the latest version; safe to call from several processes at once (kysely locks). */
export async function migrateToLatest(db: Kysely<unknown>, schema?: string): Promise<MigrateResult> {
  const migrator = new Migrator({
    db,
    provider: new StaticMigrationProvider(),
    // Parallel work streams add numbered migrations independently (0003 may land after 0004 ran).
    allowUnorderedMigrations: true,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  for (let attempt = 1; ; attempt++) {
    // Kysely returns migration failures and throws its own setup's (the table listing included).
    const { error, results } = await migrator.migrateToLatest().catch((thrown: unknown) => ({
      error: thrown,
      results: undefined,
    }));
    if (!error) {
      return { applied: (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName) };
    }
    if (attempt < 5 && results === undefined && isConcurrentSchemaDrop(error)) {
      await new Promise((r) => setTimeout(r, 25 * attempt));
      continue;
    }
    throw error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * Kysely's migrator lists every table of the database to find its own, and a schema another
 * process drops meanwhile (parallel test files, each on its own schema of one database) fails that
 * listing with "schema … does not exist" (SQLSTATE 3F000) or, when the drop lands between the
 * listing's scan and its per-column lookups, "relation … does not exist" (42P01). Such an error
 * is thrown from the migrator's setup, before any migration ran (a failed migration comes back in
 * `results` instead): nothing was migrated, so try again.
 */
function isConcurrentSchemaDrop(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "3F000" || code === "42P01";
}
