import { type IncomingMessage, maxHeaderSize } from "node:http";
import type { ColdStartKind, ErrorBody } from "@kumo/core";
import { KumoError, RESPONSE_LIMITS } from "@kumo/core";
import type Docker from "dockerode";
import type { CodeCache } from "./code-cache.ts";
import { STEM_CELL_RUNTIMES, type StemRuntime } from "./config.ts";
import { type ContainerLogLine, Instance, messageOf } from "./instance.ts";
import { type Lease, Pool, type PoolLimits } from "./pool.ts";
import type { StemCells } from "./stem-cells.ts";
import type { VersionSpec } from "./version-catalog.ts";

export interface FleetOptions {
  docker: Docker;
  nodeId: string;
  runDir: string;
  labels: Record<string, string>;
  stemCells: StemCells;
  codeCache: CodeCache;
  pauseAfterMs: number;
  queueTimeoutMs: number;
  startTimeoutMs: number;
  onLog(tenantId: string, functionId: string, line: ContainerLogLine): void;
  onError(error: unknown): void;
  /**
   * This node's part of a version's cluster-wide concurrency limit (NodeRoster.share); without it
   * the node takes the whole limit (a single node).
   */
  concurrencyShare?(versionId: string, total: number): number;
  /** A request had to wait for an instance to start, be specialized or unpaused. */
  onColdStart?(runtime: string, kind: ColdStartKind): void;
}

export interface InvocationCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
  deadline: number;
}

/** A started invocation: the shim's response, to be consumed, then `finish()`ed exactly once. */
export interface RunningInvocation {
  response: IncomingMessage;
  coldStart: ColdStartKind;
  queueMs: number;
  /** Resolves to the error a failure mid-response means (timeout, crash, OOM). */
  failure(error: unknown): Promise<ErrorBody>;
  finish(): void;
}

export type InvocationStart =
  | { ok: true; run: RunningInvocation }
  | { ok: false; error: ErrorBody; coldStart: ColdStartKind; queueMs: number };

/** Default per-instance concurrency: Python handlers are often blocking, the rest are async servers. */
export function defaultConcurrency(runtime: string): number {
  return runtime === "python" ? 1 : 16;
}

/** Invocations one instance of the version takes at once (scaling.concurrency or the runtime's default). */
function instanceConcurrency(spec: VersionSpec): number {
  return spec.config.scaling.concurrency ?? defaultConcurrency(spec.runtime);
}

/**
 * Every pool on this node, keyed by version and env digest, and how an invocation runs on one:
 * a slot, the call over the unix socket, a deadline that aborts it (FN_002), and the container's
 * fate deciding the code when the call breaks (FN_003 OOM, FN_004 process exited).
 */
export class Fleet {
  readonly #options: FleetOptions;
  readonly #pools = new Map<string, Pool>();
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

  async invoke(spec: VersionSpec, call: InvocationCall, signal?: AbortSignal): Promise<InvocationStart> {
    const pool = this.pool(spec);
    let lease: Lease;
    try {
      lease = await pool.acquire(call.deadline);
    } catch (error) {
      return { ok: false, error: errorBody(error), coldStart: "warm", queueMs: 0 };
    }
    if (lease.coldStart !== "warm") this.#options.onColdStart?.(spec.runtime, lease.coldStart);
    const instance = lease.instance;
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        abort.abort();
      },
      Math.max(1, call.deadline - Date.now()),
    );
    const onCancel = () => abort.abort();
    signal?.addEventListener("abort", onCancel, { once: true });
    let finished = false;
    let broken = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onCancel);
      pool.release(lease, broken);
    };
    const failure = async (error: unknown): Promise<ErrorBody> => {
      if (timedOut) {
        // A handler that hangs its process (a busy loop) would hold the slot forever: recycle it.
        if (!(await instance.responsive(500))) broken = true;
        return {
          code: "FN_002",
          message: `the function did not finish within its timeout of ${spec.config.timeoutMs} ms`,
        };
      }
      if (signal?.aborted) return { code: "FN_008", message: "the caller went away" };
      // The function's own server answered with something that is not HTTP (a custom image can):
      // its fault, and its instance is fine.
      const unparsable = parseFailure(error);
      if (unparsable) return unparsable;
      const exit = await Promise.race([
        instance.exited,
        new Promise<null>((r) => setTimeout(() => r(null), 2000)),
      ]);
      broken = true;
      if (exit?.oomKilled)
        return {
          code: "FN_003",
          message: `the function ran out of memory (limit ${spec.config.memoryMb} MB); its instance was replaced`,
        };
      if (exit)
        return {
          code: "FN_004",
          message: `the function's process exited with code ${exit.exitCode} during the invocation; its instance was replaced`,
        };
      return {
        code: "FN_008",
        message: `lost the connection to the function's container: ${messageOf(error)}`,
      };
    };
    try {
      const response = await instance.client.call({
        method: call.method,
        path: `/invoke${call.url.startsWith("/") ? "" : "/"}${call.url}`,
        headers: call.headers,
        body: call.body,
        signal: abort.signal,
      });
      return {
        ok: true,
        run: { response, coldStart: lease.coldStart, queueMs: lease.queueMs, failure, finish },
      };
    } catch (error) {
      const body = await failure(error);
      finish();
      return { ok: false, error: body, coldStart: lease.coldStart, queueMs: lease.queueMs };
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await Promise.all([...this.#pools.values()].map((p) => p.stop()));
    this.#pools.clear();
  }

  #stemCellRuntime(spec: VersionSpec): StemRuntime | undefined {
    const runtime = spec.runtime as StemRuntime;
    return STEM_CELL_RUNTIMES.includes(runtime) && !spec.config.egress ? runtime : undefined;
  }

  async #startInstance(spec: VersionSpec, concurrency: number): Promise<Instance> {
    const runtime = this.#stemCellRuntime(spec);
    if (runtime) {
      this.#options.stemCells.noteDemand(runtime);
      const cell = this.#options.stemCells.take(runtime);
      if (cell) {
        try {
          return await this.#specialize(cell, spec, concurrency);
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
      labels: this.#options.labels,
      startTimeoutMs: this.#options.startTimeoutMs,
      onLog: (i, line) => this.#log(i, line),
    });
    instance.owner = { tenantId: spec.tenantId, functionId: spec.functionId };
    instance.startKind = "cold";
    return instance;
  }

  /** A stem cell takes on a version: its code copied into the cell's read-only mount, then POST /init. */
  async #specialize(cell: Instance, spec: VersionSpec, concurrency: number): Promise<Instance> {
    const code = await this.#options.codeCache.prepare(spec);
    if (!cell.codeDir) throw new Error("stem cell without a code mount");
    this.#options.codeCache.copyInto(code, cell.codeDir);
    cell.owner = { tenantId: spec.tenantId, functionId: spec.functionId };
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
    const body = await readBody(res);
    await limited;
    if (res.statusCode !== 200) throw new KumoError("FN_008", `stem cell specialization failed: ${body}`);
    cell.versionId = spec.versionId;
    cell.concurrency = concurrency;
    cell.startKind = "stem-cell";
    return cell;
  }

  #log(instance: Instance, line: ContainerLogLine): void {
    if (instance.owner) this.#options.onLog(instance.owner.tenantId, instance.owner.functionId, line);
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

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** What a response node:http could not parse means: oversized headers (FN_010) or not HTTP (FN_004). */
function parseFailure(error: unknown): ErrorBody | undefined {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  if (code === "HPE_HEADER_OVERFLOW")
    return {
      code: "FN_010",
      message: `the function's response headers exceed ${maxHeaderSize} bytes; the limit is ${RESPONSE_LIMITS.headerBytes} bytes`,
    };
  if (code?.startsWith("HPE_"))
    return { code: "FN_004", message: `the function's response is not valid HTTP/1.1: ${messageOf(error)}` };
  return undefined;
}

export function errorBody(error: unknown): ErrorBody {
  if (error instanceof KumoError) return error.toJSON();
  return { code: "FN_500", message: messageOf(error) };
}
