import { type DatabaseHandle, openDatabase } from "./open-database.ts";
import { PlatformStore } from "./platform-store.ts";

export interface ServiceDatabaseConfig {
  databaseUrl: string | undefined;
  dataDir: string;
  databaseSchema: string;
  /** KUMO_BUS_NAMESPACE; empty means the installation's identity. */
  busNamespace: string;
}

export interface ServiceDatabase {
  database: DatabaseHandle;
  platform: PlatformStore;
  /** What this installation's NATS subjects, streams and buckets are named by. */
  namespace: string;
  /** Closes the database if this call opened it; a database that was given stays open. */
  close(): Promise<void>;
}

/**
 * What every service starts on: the database it was given (one process running several services)
 * or its own from the configuration, and the installation's bus namespace read from it, so the
 * gateway, autoscalers and schedulers of one installation always agree on it.
 */
export async function openServiceDatabase(
  config: ServiceDatabaseConfig,
  given: DatabaseHandle | undefined,
): Promise<ServiceDatabase> {
  const database =
    given ??
    (await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, schema: config.databaseSchema }));
  try {
    const platform = new PlatformStore(database.db);
    const namespace = config.busNamespace || (await platform.installationId());
    return { database, platform, namespace, close: given ? async () => {} : () => database.close() };
  } catch (error) {
    if (!given) await database.close().catch(() => {});
    throw error;
  }
}
