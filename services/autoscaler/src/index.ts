import { createHash } from "node:crypto";
import { resolve } from "node:path";
import {
  connectBus,
  jetstreamManager,
  LinkServer,
  type LinkServerOptions,
  maxFramePayload,
  type NatsConnection,
  streams,
  subjects,
} from "@kumo/bus";
import { isEdgeRuntime, PortBridge, serveHealth, serviceSecretBox, succeeds } from "@kumo/core";
import { type DatabaseHandle, openServiceDatabase, Recorder } from "@kumo/db";
import Docker from "dockerode";
import { AsyncWorker } from "./async-worker.ts";
import { CodeCache } from "./code-cache.ts";
import type { AutoscalerConfig } from "./config.ts";
import { containerLabels } from "./container-labels.ts";
import { DestinationQueue } from "./destination-queue.ts";
import { DestinationSender } from "./destination-sender.ts";
import { Fleet } from "./fleet.ts";
import { FleetProvider } from "./fleet-provider.ts";
import { LazyProvider } from "./lazy-provider.ts";
import { LogShipper } from "./log-shipper.ts";
import { AutoscalerMetrics } from "./metrics.ts";
import { NodeRoster } from "./node-roster.ts";
import { reconcileContainers } from "./reconcile-containers.ts";
import { StemCells } from "./stem-cells.ts";
import { SyncServer } from "./sync-server.ts";
import { VersionCatalog } from "./version-catalog.ts";
import { WarmKeeper } from "./warm-keeper.ts";

/**
 * Least time between two record writes of this node (see RecorderOptions.minWriteIntervalMs): at
 * thousands of async invocations a second, a statement every 10 ms carries tens of records where
 * back-to-back writes carried a few, for at most 10 ms more before each acknowledgement.
 */
const RECORD_WRITE_INTERVAL_MS = 10;

export { type AutoscalerConfig, loadAutoscalerConfig } from "./config.ts";
export { containerLabels } from "./container-labels.ts";
export { reconcileContainers } from "./reconcile-containers.ts";

export interface AutoscalerDeps {
  nats?: NatsConnection;
  docker?: Docker;
  /** An open database (kumo dev shares the gateway's); else opened from DATABASE_URL / the data dir. */
  database?: DatabaseHandle;
  log?: (line: string) => void;
}

export interface Autoscaler {
  url: string;
  /** This node's pools and stem cells (tests, metrics). */
  status(): AutoscalerStatus;
  stop(): Promise<void>;
}

export interface AutoscalerStatus {
  pools: { versionId: string; instances: number; paused: number; inFlight: number; state: string }[];
  stemCells: Record<string, number>;
  syncInFlight: number;
  /** Sync invocations that came over a gateway's direct link rather than NATS, since start. */
  syncOverLink: number;
  asyncInFlight: number;
}

/**
 * The per-node container pool service: removes what a previous run left behind, then serves sync
 * invocations (NATS queue group) and async ones (JetStream work queue) from warm pools, stem cells
 * and paused containers. `stop()` stops taking work, drains in-flight invocations, removes containers.
 */
export async function start(config: AutoscalerConfig, deps: AutoscalerDeps = {}): Promise<Autoscaler> {
  const log = deps.log ?? (() => {});
  const cleanup: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    // Each step is bounded: a stuck dependency must not keep a stopping node (and its SIGTERM) hanging.
    for (const fn of cleanup.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), 10_000);
      });
      const outcome = await Promise.race([
        fn().catch((e: unknown) => log(`stopping: ${String(e)}`)),
        timedOut,
      ]);
      clearTimeout(timer);
      if (outcome === "timeout") log("stopping: a shutdown step took over 10 s; moving on");
    }
  };
  try {
    const nc =
      deps.nats ?? (await connectBus({ url: config.natsUrl, name: `kumo-autoscaler-${config.nodeId}` }));
    if (!deps.nats) cleanup.push(() => nc.drain());
    const docker = deps.docker ?? new Docker({ socketPath: config.dockerSocket });
    const removed = await reconcileContainers(docker, config.nodeId).catch((error: unknown) => {
      log(`cannot reach the Docker engine at ${config.dockerSocket}: ${String(error)}`);
      return [];
    });
    if (removed.length > 0) log(`removed ${removed.length} containers left behind by a previous run`);

    const { database, platform, namespace, close } = await openServiceDatabase(config, deps.database);
    cleanup.push(close);

    const catalog = new VersionCatalog({
      platform,
      secretBox: serviceSecretBox(config.masterKey, config.dataDir),
    });
    const recorder = new Recorder({
      db: database.db,
      flushMs: config.recordFlushMs,
      minWriteIntervalMs: RECORD_WRITE_INTERVAL_MS,
      onError: (error) => log(`recording invocations failed: ${String(error)}`),
    });
    cleanup.push(() => recorder.drain());
    const logs = new LogShipper({ nc, recorder, namespace, capBytes: config.logCapBytes });
    cleanup.push(async () => logs.flush());

    const runDir = resolve(config.dataDir, "run");
    const labels = config.containerLabels;
    const codeCache = new CodeCache({
      docker,
      dir: resolve(config.dataDir, "code", config.nodeId),
      nodeId: config.nodeId,
      labels,
      loadArtifact: (tenantId, digest) => platform.tenant(tenantId).artifacts.get(digest),
    });
    let fleet: Fleet | undefined;
    const stemCells = new StemCells({
      min: config.stemCells,
      max: config.stemCellMax,
      startCell: (runtime) => {
        if (!fleet) throw new Error("fleet not ready");
        return fleet.startStemCell(runtime);
      },
      onError: (error) => log(`stem cell: ${String(error)}`),
    });
    // The live nodes, to split cluster-wide counts: minInstances (see WarmKeeper) and maxConcurrency.
    let keeper: WarmKeeper | undefined;
    // Gateways on this machine send sync invocations over this socket instead of through
    // nats-server while this is the only node (see NodeLinks in @kumo/bus).
    let sync: SyncServer | undefined;
    const link = config.directLink
      ? await listenForLinks(config, namespace, (message, reply) => sync?.handleLink(message, reply), log)
      : undefined;
    if (link) cleanup.push(() => link.close());
    const roster = new NodeRoster({
      nc,
      namespace,
      nodeId: config.nodeId,
      ...(link ? { link: link.path } : {}),
      onChange: () => {
        fleet?.reshare();
        keeper?.refresh();
      },
    });
    roster.start();
    cleanup.push(async () => roster.stop());
    const jsm = await jetstreamManager(nc);
    const metrics = new AutoscalerMetrics({
      pools: () => fleet?.pools() ?? [],
      stemCells: () => stemCells.counts(),
      syncOverLink: () => sync?.overLink ?? 0,
      asyncBacklog: async () => {
        const info = await jsm.consumers.info(streams.invocations(namespace), streams.invocationConsumer);
        return info.num_pending + info.num_ack_pending;
      },
    });
    fleet = new Fleet({
      concurrencyShare: (versionId, total) => roster.share(versionId, total),
      onColdStart: (runtime, kind) => metrics.coldStarts.inc({ runtime, kind }),
      docker,
      nodeId: config.nodeId,
      runDir,
      labels,
      stemCells,
      codeCache,
      portBridge: new PortBridge({
        docker,
        labels: { ...labels, [containerLabels.managed]: "true", [containerLabels.node]: config.nodeId },
      }),
      pauseAfterMs: config.pauseAfterMs,
      queueTimeoutMs: config.queueTimeoutMs,
      startTimeoutMs: config.instanceStartTimeoutMs,
      onLog: (owner, line) => logs.add(owner, line),
      onError: (error) => log(`pool: ${String(error)}`),
    });
    const pools = fleet;
    cleanup.push(() => pools.stop());
    cleanup.push(() => stemCells.stop());
    pools.start();
    stemCells.start();

    keeper = new WarmKeeper({
      platform,
      catalog,
      fleet: pools,
      roster,
      onError: (error) => log(`minInstances: ${String(error)}`),
    });
    const warm = keeper;
    // Give the roster a moment to hear the other nodes before taking a share.
    const firstPass = setTimeout(() => warm.start(), 300);
    cleanup.push(async () => {
      clearTimeout(firstPass);
      await warm.stop();
    });

    // Gateways announce changes: drop cached versions; drain versions no alias routes to any more.
    const changes = nc.subscribe(subjects.changesAll(namespace), {
      callback: (error, msg) => {
        if (error) return;
        const tenantId = msg.subject.split(".").at(-1) ?? "";
        let functionId: string | undefined;
        try {
          functionId = msg.json<{ functionId: string | null }>().functionId ?? undefined;
        } catch {
          functionId = undefined;
        }
        catalog.evict(tenantId, functionId);
        if (functionId) void drainUnrouted(catalog, pools, tenantId, functionId).catch(() => {});
        keeper?.refresh();
      },
    });
    cleanup.push(async () => changes.unsubscribe());

    const framePayload = maxFramePayload(nc.info?.max_payload);
    const containers = new FleetProvider(pools);
    sync = new SyncServer({
      nodeId: config.nodeId,
      roster,
      nc,
      namespace,
      provider: containers,
      catalog,
      framePayload,
      onError: (error) => log(`sync: ${String(error)}`),
    });
    const syncServer = sync;
    syncServer.start();
    cleanup.push(() => syncServer.stop());

    const sender = new DestinationSender({
      ...config.destinations,
      onOutcome: (o) => {
        metrics.deliveries.inc({ outcome: o.delivered ? "delivered" : o.refused ? "refused" : "failed" });
        logs.add(
          { tenantId: o.tenantId, functionId: o.functionId },
          {
            ts: Date.now(),
            level: o.delivered ? "info" : "error",
            invocationId: o.invocationId,
            message: o.delivered
              ? `destination ${o.kind} ${o.url}: delivered (${o.statusCode}) after ${o.attempts} attempt(s)`
              : `destination ${o.kind} ${o.url}: ${o.refused ? "" : `not delivered after ${o.attempts} attempt(s): `}${o.error}`,
          },
        );
      },
    });
    const destinations = new DestinationQueue({
      nc,
      namespace,
      sender,
      ackWaitMs: 60_000,
      concurrency: 32,
      onError: (error) => log(`destinations: ${String(error)}`),
    });
    await destinations.start();
    cleanup.push(() => destinations.stop());
    // Async edge invocations run here too, in isolate hosts started on the first one.
    const edge = new LazyProvider({
      name: "edge",
      supports: isEdgeRuntime,
      load: () =>
        import("@kumo/edge").then((m) =>
          m.createEdgeProvider({
            hosts: 1,
            hostNodeArgs: config.edgeHostNodeArgs,
            fetch: { allowPrivateAddresses: config.edgeAllowPrivateFetch },
            onLateLogs: (invocationId, lines) =>
              log(`edge: ${lines.length} late log line(s) of ${invocationId}`),
          }),
        ),
    });
    cleanup.push(() => edge.stop());
    const worker = new AsyncWorker({
      destinations,
      metrics,
      nc,
      namespace,
      providers: [containers, edge],
      catalog,
      recorder,
      logCapBytes: config.logCapBytes,
      ackWaitMs: config.asyncAckWaitMs,
      retryBaseMs: config.asyncRetryBaseMs,
      concurrency: config.asyncConcurrency,
      onError: (error) => log(`async: ${String(error)}`),
    });
    await worker.start();
    cleanup.push(() => worker.stop());

    const health = await serveHealth({
      host: config.host,
      port: config.port,
      checks: async () => ({
        nats: !nc.isClosed(),
        docker: await succeeds(docker.ping()),
      }),
      metrics: metrics.registry,
    });
    cleanup.push(() => health.close());
    return {
      url: health.url,
      status: () => ({
        pools: pools.pools().map((p) => ({
          versionId: p.spec.versionId,
          instances: p.instances.length,
          paused: p.instances.filter((i) => i.state === "paused").length,
          inFlight: p.inFlight,
          state: p.state,
        })),
        stemCells: stemCells.counts(),
        syncInFlight: syncServer.inFlight,
        syncOverLink: syncServer.overLink,
        asyncInFlight: worker.inFlight,
      }),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The node's direct-link server, or undefined when its socket cannot be made (logged). */
async function listenForLinks(
  config: AutoscalerConfig,
  namespace: string,
  onMessage: LinkServerOptions["onMessage"],
  log: (line: string) => void,
): Promise<LinkServer | undefined> {
  // Installations (and nodes) sharing a data directory get a socket each.
  const name = createHash("sha256").update(`${namespace}\n${config.nodeId}`).digest("hex").slice(0, 12);
  const server = new LinkServer({
    path: resolve(config.dataDir, "links", `${name}.sock`),
    namespace,
    nodeId: config.nodeId,
    onMessage,
  });
  try {
    await server.listen();
    return server;
  } catch (error) {
    log(`direct link off (sync invocations go through NATS): ${String(error)}`);
    return undefined;
  }
}

async function drainUnrouted(catalog: VersionCatalog, fleet: Fleet, tenantId: string, functionId: string) {
  const routed = await catalog.routedVersions(tenantId, functionId);
  fleet.drainVersions(
    (spec) => spec.tenantId === tenantId && spec.functionId === functionId && !routed.has(spec.version),
  );
}
