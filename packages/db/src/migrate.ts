import { type Kysely, type Migration, type MigrationProvider, Migrator } from "kysely";
import * as initial from "./migrations/0001-initial.ts";
import * as routing from "./migrations/0002-routing.ts";

/** Migrations are compiled in, so a running service never depends on a migrations folder on disk. */
const MIGRATIONS: Record<string, Migration> = {
  "0001-initial": initial,
  "0002-routing": routing,
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
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return { applied: (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName) };
}
