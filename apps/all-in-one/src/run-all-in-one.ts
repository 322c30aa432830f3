import { rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { resolve } from "node:path";
import { type EnsureImages, loadBuilderConfig, start as startBuilder } from "@kumo/builder";
import { connectBus } from "@kumo/bus";
import { KumoError } from "@kumo/core";
import { type Gateway, loadGatewayConfig, start as startGateway } from "@kumo/gateway";
import { loadSchedulerConfig, start as startScheduler } from "@kumo/scheduler";
import { startTelemetry } from "@kumo/telemetry";
import { DEV_TENANT, type DevTenantKey, ensureDevTenant } from "./dev-tenant.ts";
import { interrupted, LaunchError } from "./launch-error.ts";
import { startAutoscalerThread } from "./start-autoscaler-thread.ts";
import { watchStopRequests } from "./stop-requests.ts";

export interface AllInOneOptions {
  port?: number;
  dataDir?: string;
  /** The environment (process.env from main.ts); nothing here reads process.env itself. */
  env: Record<string, string | undefined>;
}
/** The checkout's image recipes and their builder (plain Node, no dependencies). */
const IMAGES_SCRIPT = new URL("../../../scripts/images.mjs", import.meta.url).href;
/** Set by `npm start`'s launcher (scripts/commands/start.mjs) to its own pid. */
const LAUNCHER_PID_VAR = "KUMO_LAUNCHER_PID";
/** After its launcher died nobody can Ctrl-C a stop that hangs: exit regardless after this long. */
const ORPHAN_STOP_DEADLINE_MS = 20_000;

interface Running {
  name: string;
  stop(): Promise<void>;
}

/**
 * `npm start`: every service in one process, the same `start()`s that run them apart.
 * On first start it creates a "dev" tenant and keeps its admin key in the data directory, so a
 * newcomer can log in with one command. Resolves once stopped by SIGINT/SIGTERM, or when the
 * launcher that started it dies. Whatever fails during startup, what already started is stopped
 * before the error is thrown, so a failed start leaves no port, socket or connection behind.
 */
export async function runAllInOne(options: AllInOneOptions): Promise<void> {
  const { [LAUNCHER_PID_VAR]: launcher, ...given } = options.env;
  const launcherPid = Number(launcher) || undefined;
  const env: Record<string, string | undefined> = {
    ...given,
    ...(options.port === undefined ? {} : { KUMO_PORT: String(options.port) }),
    KUMO_DATA_DIR: resolve(options.dataDir || given.KUMO_DATA_DIR || ".kumo"),
    KUMO_LOG_LEVEL: given.KUMO_LOG_LEVEL ?? "warn",
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
    throw error instanceof KumoError ? new LaunchError("CONFIG", error.message) : error;
  }

  const stops = watchStopRequests({ launcherPid });
  const running: Running[] = [];
  const stopAll = async () => {
    for (const service of running.splice(0).reverse()) {
      await service
        .stop()
        .catch((error: unknown) => say(`stopping the ${service.name} failed: ${String(error)}`));
    }
  };
  /** Records a started service; a stop requested meanwhile ends the startup here. */
  const started = <T extends { stop(): Promise<void> }>(name: string, service: T): T => {
    running.push({ name, stop: () => service.stop() });
    if (stops.reason !== undefined) throw interrupted();
    return service;
  };
  try {
    try {
      // Taken ports are the usual failure: say so in a second, before minutes of startup.
      if (config.port !== 0) await ensurePortFree(config.host, config.port);
      say("starting the gateway, builder, autoscaler and scheduler (the log-in lines follow when it serves)");
      if (env.KUMO_BUILDER_LISTEN.startsWith("unix:"))
        await releaseStaleSocket(env.KUMO_BUILDER_LISTEN.slice("unix:".length), config.dataDir);
      // Traces (off unless OTEL_* variables ask for them): one SDK for every service, stopped last.
      started("telemetry", await startTelemetry("kumo"));
      // One NATS connection and one database for the whole process: the other services share them.
      const nats = await connectBus({ url: config.natsUrl, name: "kumo-dev" });
      started("NATS connection", { stop: () => nats.drain() });
      const gateway = started("gateway", await startGateway(config, { log: say, nats }));
      // In one process the other services' health endpoints take ephemeral ports: the gateway is the front door.
      const internal = {
        ...env,
        KUMO_BUILDER_PORT: "0",
        KUMO_AUTOSCALER_PORT: "0",
        KUMO_SCHEDULER_PORT: "0",
      };
      // The launcher runs from a checkout: missing runtime images are built from its recipes on demand.
      const { ensureImages } = (await import(IMAGES_SCRIPT)) as { ensureImages: EnsureImages };
      started("builder", await startBuilder(loadBuilderConfig(internal), { nats, ensureImages }));
      // The autoscaler proxies every container invocation: a thread of its own keeps that work off the
      // gateway's event loop (measured in bench/invocation.bench.ts's npm start figures).
      started(
        "autoscaler",
        await startAutoscalerThread(
          {
            env: internal,
            databasePort: gateway.database.shareThreadPort?.(),
            databaseLocation: gateway.database.location,
          },
          say,
        ),
      );
      started(
        "scheduler",
        await startScheduler(loadSchedulerConfig(internal), { log: say, nats, database: gateway.database }),
      );
      const devKey = await ensureDevTenant(gateway, `${config.dataDir}/dev-tenant.key`);
      if (stops.reason !== undefined) throw interrupted();
      printBanner(say, config, gateway, devKey);
    } catch (error) {
      await stopAll();
      throw addressInUse(error, config) ?? error;
    }

    const reason = await stops.requested;
    say(`${reason}: stopping`);
    if (reason === "launcher exited") setTimeout(() => process.exit(1), ORPHAN_STOP_DEADLINE_MS).unref();
    await stopAll();
    say("stopped");
  } finally {
    stops.dispose();
  }
}

function printBanner(
  say: (line: string) => void,
  config: ReturnType<typeof loadGatewayConfig>,
  gateway: Gateway,
  devKey: DevTenantKey,
): void {
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
}

/** A listen that failed because the port or socket is taken, as an error that says what to do. */
function addressInUse(
  error: unknown,
  config: { host: string; port: number; dataDir: string },
): LaunchError | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  const code = "code" in error ? error.code : undefined;
  // The builder's gRPC server reports a taken address only inside its message.
  if (code !== "EADDRINUSE" && !message.includes("EADDRINUSE")) return undefined;
  const port = "port" in error && typeof error.port === "number" ? error.port : undefined;
  const address = "address" in error && typeof error.address === "string" ? error.address : undefined;
  if (code === "EADDRINUSE" && port === undefined && address?.startsWith("/"))
    return socketInUse(address, config.dataDir, error);
  if (code === "EADDRINUSE" && port === config.port) return portInUse(config.host, config.port, error);
  return new LaunchError("ADDRESS_IN_USE", `an address Kumo listens on is in use: ${message}`, {
    cause: error,
    hint: "stop what holds it, or move that listener (KUMO_BUILDER_LISTEN and KUMO_BUILDER_URL for the builder)",
  });
}

function portInUse(host: string, port: number, cause?: unknown): LaunchError {
  return new LaunchError(
    "ADDRESS_IN_USE",
    `port ${port} on ${host} is already in use (another Kumo, or another program)`,
    {
      cause,
      hint: "stop what holds it, or choose another port: `npm start -- --port <n>` or KUMO_PORT=<n>",
    },
  );
}

/** Binds the gateway's address for a moment: throws ADDRESS_IN_USE if something holds it. */
async function ensurePortFree(host: string, port: number): Promise<void> {
  await new Promise<void>((done, fail) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      fail(error.code === "EADDRINUSE" ? portInUse(host, port, error) : error),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => done()));
  });
}

function socketInUse(path: string, dataDir: string, cause?: unknown): LaunchError {
  return new LaunchError(
    "ADDRESS_IN_USE",
    `${path} is in use: another Kumo is running on the data directory ${dataDir}`,
    {
      cause,
      hint: "stop it, or give this one another directory: `npm start -- --data-dir <dir>` or KUMO_DATA_DIR",
    },
  );
}

/**
 * A platform that was killed (SIGKILL, power loss) leaves its unix socket file behind, and listening
 * on it again fails. Removes the file when nothing answers on it; refuses when something does.
 */
async function releaseStaleSocket(path: string, dataDir: string): Promise<void> {
  const answered = await new Promise<boolean | "absent">((done) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => done(error.code === "ENOENT" ? "absent" : false));
  });
  if (answered === true) throw socketInUse(path, dataDir);
  if (answered === false) await rm(path, { force: true });
}
