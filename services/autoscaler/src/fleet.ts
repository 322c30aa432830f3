import type { ColdStartKind, PortBridge } from "@kumo/core";
import { KumoError, runtimeFamily } from "@kumo/core";
import type { LogOwner } from "@kumo/db";
import type Docker from "dockerode";
import type { CodeCache, PreparedCode } from "./code-cache.ts";
import { STEM_CELL_RUNTIMES, type StemRuntime } from "./config.ts";
import { type ContainerLogLine, Instance } from "./instance.ts";
import { Pool, type PoolLimits } from "./pool.ts";
import { ShimClient } from "./shim-client.ts";
import type { StemCells } from "./stem-cells.ts";
import type { VersionSpec } from "./version-catalog.ts";

export interface FleetOptions {
  docker: Docker;
  nodeId: string;
  runDir: string;
  labels: Record<string, string>;
  stemCells: StemCells;
  codeCache: CodeCache;
  /** Runs custom images that listen on a TCP port (kumo.json `port`) behind kumo-bridge. */
  portBridge: PortBridge;
  pauseAfterMs: number;
  queueTimeoutMs: number;
  startTimeoutMs: number;
  onLog(owner: LogOwner, line: ContainerLogLine): void;
  onError(error: unknown): void;
  /**
   * This node's part of a version's cluster-wide concurrency limit (NodeRoster.share); without it
   * the node takes the whole limit (a single node).
   */
  concurrencyShare?(versionId: string, total: number): number;
  /** A request had to wait for an instance to start, be specialized or unpaused. */
  onColdStart?(runtime: string, kind: ColdStartKind): void;
}

/** Default per-instance concurrency: Python handlers are often blocking, the rest are async servers. */
export function defaultConcurrency(runtime: string): number {
  return runtimeFamily(runtime) === "python" ? 1 : 16;
}

/** Invocations one instance of the version takes at once (scaling.concurrency or the runtime's default). */
function instanceConcurrency(spec: VersionSpec): number {
  return spec.config.scaling.concurrency ?? defaultConcurrency(spec.runtime);
}

/**
 * Every pool on this node, keyed by version and env digest, and the instances they start (cold or
 * from stem cells). How an invocation runs on a pool is the FleetProvider's.
 */
export class Fleet {
  readonly #options: FleetOptions;
  readonly #pools = new Map<string, Pool>();
  /** Versions whose code a stem cell cannot take on (PreparedCode.stemCells): they start cold. */
  readonly #coldOnly = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: FleetOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const [key, pool] of this.#pools) {
        pool.reap(now);
        if (pool.state === "stopped") this.#pools.delete(key);
      }
    }, 250);
    this.#timer.unref();
  }

  pools(): Pool[] {
    return [...this.#pools.values()];
  }

  pool(spec: VersionSpec): Pool {
    const key = `${spec.versionId}/${spec.envDigest}`;
    let pool = this.#pools.get(key);
    if (pool && pool.state === "active") return pool;
    // Another env of the same version is stale now (env or a secret changed): drain it.
    for (const [otherKey, other] of this.#pools) {
      if (other.spec.versionId === spec.versionId && otherKey !== key && other.state === "active")
        void other.drain();
    }
    const scaling = spec.config.scaling;
    const concurrency = instanceConcurrency(spec);
    const limits: PoolLimits = {
      concurrency,
      // Set by the WarmKeeper: this node's share of the cluster-wide scaling.minInstances.
      minInstances: 0,
      maxInstances: scaling.maxInstances,
      maxConcurrency: this.concurrencyShare(spec),
      idleTtlMs: scaling.idleTtlMs,
      pauseAfterMs: Math.min(this.#options.pauseAfterMs, scaling.idleTtlMs),
      queueTimeoutMs: this.#options.queueTimeoutMs,
    };
    pool = new Pool({
      spec,
      limits,
      startInstance: (s) => this.#startInstance(s, concurrency),
      onError: this.#options.onError,
    });
    this.#pools.set(key, pool);
    if (this.#stemCellRuntime(spec)) this.#options.codeCache.prepare(spec).catch(() => {});
    return pool;
  }

  /** The version's concurrency limit for the whole installation (scaling.maxConcurrency). */
  static concurrencyLimit(spec: VersionSpec): number {
    const scaling = spec.config.scaling;
    return scaling.maxConcurrency ?? instanceConcurrency(spec) * scaling.maxInstances;
  }

  /** This node's part of the version's concurrency limit. */
  concurrencyShare(spec: VersionSpec): number {
    const total = Fleet.concurrencyLimit(spec);
    return this.#options.concurrencyShare?.(spec.versionId, total) ?? total;
  }

  /** Re-splits every pool's concurrency limit (the set of live nodes changed). */
  reshare(): void {
    for (const pool of this.#pools.values())
      if (pool.state === "active") pool.setMaxConcurrency(this.concurrencyShare(pool.spec));
  }

  /** Drains the pools of versions that no longer get traffic. */
  drainVersions(predicate: (spec: VersionSpec) => boolean): void {
    for (const pool of this.#pools.values())
      if (pool.state === "active" && predicate(pool.spec)) void pool.drain();
  }

  /** A request had to wait for an instance to start, be specialized or unpaused. */
  noteColdStart(spec: VersionSpec, kind: ColdStartKind): void {
    if (kind !== "warm") this.#options.onColdStart?.(runtimeFamily(spec.runtime), kind);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await Promise.all([...this.#pools.values()].map((p) => p.stop()));
    this.#pools.clear();
  }

  /** A pinned version ("node22") has no stem cells: they run the family's default image. */
  #stemCellRuntime(spec: VersionSpec): StemRuntime | undefined {
    const runtime = spec.runtime as StemRuntime;
    return STEM_CELL_RUNTIMES.includes(runtime) && !spec.config.egress ? runtime : undefined;
  }

  async #startInstance(spec: VersionSpec, concurrency: number): Promise<Instance> {
    const runtime = this.#stemCellRuntime(spec);
    if (runtime && !this.#coldOnly.has(spec.versionId)) {
      this.#options.stemCells.noteDemand(runtime);
      const cell = this.#options.stemCells.take(runtime);
      if (cell) {
        try {
          const code = await this.#options.codeCache.prepare(spec);
          if (code.stemCells) return await this.#specialize(cell, spec, code, concurrency);
          this.#coldOnly.add(spec.versionId);
          this.#options.stemCells.putBack(runtime, cell);
        } catch (error) {
          this.#options.onError(error);
          void cell.destroy();
        }
      }
    }
    const instance = await Instance.start({
      docker: this.#options.docker,
      nodeId: this.#options.nodeId,
      runDir: this.#options.runDir,
      image: spec.image,
      runtime: spec.runtime,
      versionId: spec.versionId,
      env: { ...spec.env, KUMO_FUNCTION_NAME: spec.functionName },
      memoryMb: spec.config.memoryMb,
      cpus: 1,
      egress: spec.config.egress,
      concurrency,
      codeMount: false,
      portBridge: portBridgeOf(spec, this.#options.portBridge),
      labels: this.#options.labels,
      owner: { tenantId: spec.tenantId, functionId: spec.functionId, version: spec.version },
      startTimeoutMs: this.#options.startTimeoutMs,
      onLog: (i, line) => this.#log(i, line),
    });
    instance.startKind = "cold";
    return instance;
  }

  /** A stem cell takes on a version: its code copied into the cell's read-only mount, then POST /init. */
  async #specialize(
    cell: Instance,
    spec: VersionSpec,
    code: PreparedCode,
    concurrency: number,
  ): Promise<Instance> {
    if (!cell.codeDir) throw new Error("stem cell without a code mount");
    this.#options.codeCache.copyInto(code, cell.codeDir);
    cell.owner = { tenantId: spec.tenantId, functionId: spec.functionId, version: spec.version };
    // The memory limit (a docker update, ~13 ms) is applied while the shim loads the code: until
    // it lands, the cell's own limit (512 MB) bounds the module's top-level code, and no invocation
    // is let in before both are done. A limit below what the module already uses fails the update,
    // and so the specialization (the cell is removed, the start falls back to a cold one).
    const limited = cell.limitMemory(spec.config.memoryMb);
    limited.catch(() => {});
    const res = await cell.client.call({
      method: "POST",
      path: "/init",
      headers: { "content-type": "application/json" },
      body: Buffer.from(
        JSON.stringify({
          codeDir: "/code",
          ...(code.handler ? { handler: code.handler } : {}),
          env: { ...spec.env, KUMO_FUNCTION_NAME: spec.functionName },
        }),
      ),
      signal: AbortSignal.timeout(this.#options.startTimeoutMs),
    });
    const body = (await ShimClient.read(res)).toString("utf8");
    await limited;
    if (res.statusCode !== 200) throw new KumoError("FN_008", `stem cell specialization failed: ${body}`);
    cell.versionId = spec.versionId;
    cell.concurrency = concurrency;
    cell.startKind = "stem-cell";
    return cell;
  }

  #log(instance: Instance, line: ContainerLogLine): void {
    if (instance.owner) this.#options.onLog(instance.owner, line);
  }

  /** Starts a generic container of a runtime, for the stem-cell pool. */
  startStemCell(runtime: StemRuntime): Promise<Instance> {
    return Instance.start({
      docker: this.#options.docker,
      nodeId: this.#options.nodeId,
      runDir: this.#options.runDir,
      image: `kumo/runtime-${runtime}:latest`,
      runtime,
      versionId: null,
      env: {},
      memoryMb: 512,
      cpus: 1,
      egress: false,
      concurrency: 1,
      codeMount: true,
      labels: this.#options.labels,
      startTimeoutMs: this.#options.startTimeoutMs,
      onLog: (i, line) => this.#log(i, line),
    });
  }
}

/** The bridge and its settings for a custom image with kumo.json `port`; undefined for the rest. */
function portBridgeOf(spec: VersionSpec, bridge: PortBridge) {
  const { port, healthPath } = spec.config;
  return spec.runtime === "container" && port !== undefined
    ? { bridge, settings: { port, healthPath } }
    : undefined;
}
