import { resolve } from "node:path";
import { loadAutoscalerConfig, start as startAutoscaler } from "@kumo/autoscaler";
import { loadBuilderConfig, start as startBuilder } from "@kumo/builder";
import { connectBus } from "@kumo/bus";
import { KumoError, loadOrCreateKeyFile } from "@kumo/core";
import { PlatformStore } from "@kumo/db";
import { generateApiKey, hashApiKey, loadGatewayConfig, start as startGateway } from "@kumo/gateway";
import { loadSchedulerConfig, start as startScheduler } from "@kumo/scheduler";

export interface DevOptions {
  port?: number;
  dataDir?: string;
}

const DEV_TENANT = "dev";

/**
 * `kumo dev` / `npm start`: every service in one process, the same `start()`s that run them apart.
 * On first start it creates a "dev" tenant and keeps its admin key in the data directory, so a
 * newcomer can log in with one command. Resolves once stopped by SIGINT/SIGTERM.
 */
export async function runDev(options: DevOptions): Promise<void> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...(options.port === undefined ? {} : { KUMO_PORT: String(options.port) }),
    KUMO_DATA_DIR: resolve(options.dataDir ?? process.env.KUMO_DATA_DIR ?? ".kumo"),
    KUMO_LOG_LEVEL: process.env.KUMO_LOG_LEVEL ?? "warn",
  };
  // In one process the gateway reaches the builder's gRPC BuildService on a socket in the data dir.
  const builderSocket = `unix:${env.KUMO_DATA_DIR}/builder.sock`;
  env.KUMO_BUILDER_LISTEN ??= builderSocket;
  env.KUMO_BUILDER_URL ??= builderSocket;
  const say = (line: string) => process.stdout.write(`kumo: ${line}\n`);
  let config: ReturnType<typeof loadGatewayConfig>;
  try {
    config = loadGatewayConfig(env);
  } catch (error) {
    throw error instanceof KumoError ? new Error(error.message) : error;
  }

  // One NATS connection and one database for the whole process: the autoscaler shares the gateway's.
  const nats = await connectBus({ url: config.natsUrl, name: "kumo-dev" });
  const gateway = await startGateway(config, { log: say, nats });
  // In one process the other services' health endpoints take ephemeral ports: the gateway is the front door.
  const internal = { ...env, KUMO_BUILDER_PORT: "0", KUMO_AUTOSCALER_PORT: "0", KUMO_SCHEDULER_PORT: "0" };
  const services = [
    await startBuilder(loadBuilderConfig(internal)),
    await startAutoscaler(loadAutoscalerConfig(internal), { log: say, nats, database: gateway.database }),
    await startScheduler(loadSchedulerConfig(internal)),
  ];
  const devKey = await ensureDevTenant(
    new PlatformStore(gateway.database.db),
    `${config.dataDir}/dev-tenant.key`,
  );

  const url = gateway.url;
  say("");
  say(`gateway   ${url}   (API reference ${url}/docs, metrics ${url}/metrics)`);
  say(
    `database  ${gateway.database.kind === "pglite" ? `embedded PGlite in ${gateway.database.location} (set DATABASE_URL for PostgreSQL)` : gateway.database.location}`,
  );
  say(`nats      ${config.natsUrl}`);
  say(`data      ${config.dataDir}`);
  say(
    `keys      platform admin key in ${config.dataDir}/admin.key; tenant "${DEV_TENANT}" admin key in ${devKey.path}`,
  );
  if (devKey.created) say(`          tenant "${DEV_TENANT}" admin key (shown once): ${devKey.key}`);
  say("");
  say("log in and deploy your first function:");
  say(`  npx kumo login --url ${url} --key "$(cat ${devKey.path})"`);
  say("  npx kumo init hello --runtime edge && npx kumo deploy hello");
  say(`  curl ${url}/fn/${DEV_TENANT}/hello/`);
  say("");
  say("Ctrl-C stops Kumo.");

  await new Promise<void>((done) => {
    const stop = async (signal: string) => {
      say(`${signal}: stopping`);
      for (const service of services.reverse()) await service.stop();
      await gateway.stop();
      await nats.drain();
      say("stopped");
      done();
    };
    process.once("SIGINT", () => void stop("SIGINT"));
    process.once("SIGTERM", () => void stop("SIGTERM"));
  });
}

async function ensureDevTenant(
  platform: PlatformStore,
  path: string,
): Promise<{ key: string; path: string; created: boolean }> {
  const existing = await platform.tenantByName(DEV_TENANT);
  const file = loadOrCreateKeyFile(path, generateApiKey);
  if (existing && !file.created) return { key: file.value, path, created: false };
  const tenant = existing ?? (await platform.createTenant(DEV_TENANT));
  // A fresh key file (first start, or the file was deleted): register that key for the dev tenant.
  await platform.tenant(tenant.id).keys.create({
    name: "dev-admin",
    role: "admin",
    keyHash: hashApiKey(file.value),
    createdBy: "kumo dev",
  });
  return { key: file.value, path, created: true };
}
