import { randomBytes } from "node:crypto";
import { chownSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { ColdStartKind, PortBridge, PortBridgeSettings } from "@kumo/core";
import { FUNCTION_USER, functionHostConfig, KumoError } from "@kumo/core";
import type { LogOwner } from "@kumo/db";
import type Docker from "dockerode";
import { containerLabels } from "./container-labels.ts";
import { type MemoryCgroup, memoryCgroupOf, writeMemoryLimit } from "./memory-cgroup.ts";
import { ShimClient } from "./shim-client.ts";

export type InstanceState = "starting" | "ready" | "paused" | "draining" | "stopped";

/** How a container ended, for the code of the invocations it was running. */
export interface ExitInfo {
  exitCode: number;
  oomKilled: boolean;
}

export interface ContainerLogLine {
  ts: number;
  level: "debug" | "info" | "warn" | "error";
  invocationId: string | null;
  message: string;
}

export interface InstanceOptions {
  docker: Docker;
  nodeId: string;
  /** Where per-container socket (and stem-cell code) directories live on the host. */
  runDir: string;
  image: string;
  runtime: string;
  /** The version the container runs; null for a stem cell. */
  versionId: string | null;
  env: Record<string, string>;
  memoryMb: number;
  /** CPU share in cores (docker NanoCpus). */
  cpus: number;
  egress: boolean;
  concurrency: number;
  /** Mount an (initially empty) host directory read-only at /code, for stem-cell specialization. */
  codeMount: boolean;
  /** A custom image whose server listens on a TCP port (kumo.json `port`): run behind the bridge. */
  portBridge?: { bridge: PortBridge; settings: PortBridgeSettings } | undefined;
  labels: Record<string, string>;
  /**
   * Whose output the container's lines are, known before it starts for a version's own container,
   * so what it prints while starting (a server's "listening on", a crash's cause) is kept.
   */
  owner?: LogOwner | undefined;
  startTimeoutMs: number;
  onLog: (instance: Instance, line: ContainerLogLine) => void;
}

/**
 * One function container, hardened as DESIGN.md says (non-root, read-only root, tmpfs /tmp,
 * cap-drop ALL, no-new-privileges, pids/memory/CPU limits, no network unless egress), reached over
 * the unix socket in its bind-mounted /run/kumo.
 */
export class Instance {
  readonly name: string;
  readonly runtime: string;
  readonly socketDir: string;
  readonly codeDir: string | null;
  readonly client: ShimClient;
  readonly exited: Promise<ExitInfo>;
  state: InstanceState = "starting";
  /** The version it serves (null while a stem cell). */
  versionId: string | null;
  /** For log lines: which tenant and function own this container's output. */
  owner: LogOwner | null = null;
  inFlight = 0;
  concurrency: number;
  lastUsed = Date.now();
  /** How the next acquisition of this instance counts (cold or stem-cell once, then warm). */
  startKind: ColdStartKind = "cold";
  exitInfo: ExitInfo | null = null;
  readonly #container: Docker.Container;
  readonly #docker: Docker;
  /** A stem cell's memory cgroup, looked up once it is ready (limitMemory writes it directly). */
  #memoryCgroup: Promise<MemoryCgroup | undefined> | undefined;

  private constructor(
    options: InstanceOptions,
    container: Docker.Container,
    name: string,
    socketDir: string,
  ) {
    this.name = name;
    this.runtime = options.runtime;
    this.socketDir = socketDir;
    this.codeDir = options.codeMount ? join(socketDir, "code") : null;
    this.versionId = options.versionId;
    this.owner = options.owner ?? null;
    this.concurrency = options.concurrency;
    this.client = new ShimClient({
      socketPath: join(socketDir, "run", "rt.sock"),
      ownerUid: FUNCTION_USER,
      maxSockets: Math.max(1, options.concurrency),
    });
    this.#container = container;
    this.#docker = options.docker;
    // "next-exit": called before start, the default condition ("not-running") would resolve at once.
    this.exited = container.wait({ condition: "next-exit" }).then(
      async () => {
        const info = await container.inspect().catch(() => undefined);
        const exitCode = info?.State.ExitCode ?? -1;
        // Docker sets OOMKilled from the OOM event, which can lose the race with the exit event
        // on a loaded machine; a SIGKILL (137) this node did not send is the kernel's OOM killer.
        const killedUnasked = exitCode === 137 && this.state !== "draining" && this.state !== "stopped";
        const exit = { exitCode, oomKilled: info?.State.OOMKilled === true || killedUnasked };
        this.exitInfo = exit;
        this.state = "stopped";
        return exit;
      },
      () => {
        const exit = { exitCode: -1, oomKilled: false };
        this.exitInfo = exit;
        this.state = "stopped";
        return exit;
      },
    );
  }

  get id(): string {
    return this.#container.id;
  }

  /** Creates and starts the container and waits for the shim's /healthz. */
  static async start(options: InstanceOptions): Promise<Instance> {
    const name = `kumo-${options.nodeId}-${randomBytes(6).toString("hex")}`;
    const socketDir = join(options.runDir, name);
    // The container sees only `run/` (its socket directory, which its user must be able to write)
    // and `code/` read-only; the directory holding both stays root's, so nothing the function does
    // can change what the host reads or writes there (see ShimClient for the socket itself).
    mkdirSync(socketDir, { recursive: true, mode: 0o755 });
    const shimDir = join(socketDir, "run");
    mkdirSync(shimDir, { mode: 0o755 });
    chownSync(shimDir, FUNCTION_USER, FUNCTION_USER);
    const binds = [`${shimDir}:/run/kumo`];
    if (options.codeMount) {
      const code = join(socketDir, "code");
      mkdirSync(code, { mode: 0o755 });
      binds.push(`${code}:/code:ro`);
    }
    let container: Docker.Container;
    try {
      const bridged = options.portBridge
        ? await options.portBridge.bridge.container(options.image, options.portBridge.settings)
        : undefined;
      if (bridged) binds.push(bridged.bind);
      container = await options.docker.createContainer({
        name,
        Image: options.image,
        ...(bridged ? { Entrypoint: bridged.Entrypoint, Cmd: bridged.Cmd } : {}),
        User: `${FUNCTION_USER}:${FUNCTION_USER}`,
        Env: Object.entries(options.env).map(([k, v]) => `${k}=${v}`),
        Labels: {
          ...options.labels,
          [containerLabels.managed]: "true",
          [containerLabels.node]: options.nodeId,
          [containerLabels.role]: options.versionId ? "instance" : "stem-cell",
          [containerLabels.runtime]: options.runtime,
          ...(options.versionId ? { [containerLabels.versionId]: options.versionId } : {}),
        },
        HostConfig: functionHostConfig({
          binds,
          memoryMb: options.memoryMb,
          cpus: options.cpus,
          egress: options.egress,
        }),
      });
    } catch (error) {
      rmSync(socketDir, { recursive: true, force: true });
      throw new KumoError("FN_008", `cannot create a container from ${options.image}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    const instance = new Instance(options, container, name, socketDir);
    try {
      await container.start();
      instance.#followLogs(options.onLog);
      await instance.#waitHealthy(options.startTimeoutMs);
      instance.state = "ready";
      // A stem cell learns where its memory limit lives while it waits, off the specialization's path.
      if (options.codeMount) {
        instance.#memoryCgroup = container.inspect().then(
          (info) => (info.State.Pid > 0 ? memoryCgroupOf(info.State.Pid) : undefined),
          () => undefined,
        );
      }
      return instance;
    } catch (error) {
      await instance.destroy();
      throw error instanceof KumoError
        ? error
        : new KumoError("FN_008", `cold start failed: ${messageOf(error)}`, { cause: error });
    }
  }

  async pause(): Promise<void> {
    if (this.state !== "ready" || this.inFlight > 0) return;
    this.state = "paused";
    await this.#container.pause().catch(() => {
      this.state = "ready";
    });
  }

  async unpause(): Promise<void> {
    await this.#container.unpause();
    this.state = "ready";
  }

  /** Changes the memory limit of a running container (a stem cell taking on a function's limit). */
  async limitMemory(memoryMb: number): Promise<void> {
    const memory = memoryMb * 1024 * 1024;
    const cgroup = await this.#memoryCgroup;
    if (cgroup) {
      try {
        writeMemoryLimit(cgroup, memory);
        return;
      } catch (error) {
        // Over the new limit already: refused, as `docker update` would refuse it.
        if ((error as NodeJS.ErrnoException).code === "EBUSY") throw error;
        // Not writable from here (a read-only /sys, another namespace): through Docker instead.
      }
    }
    await this.#container.update({ Memory: memory, MemorySwap: memory });
  }

  /** Kills and removes the container; in-flight calls fail with the exit it causes. */
  async destroy(): Promise<void> {
    if (this.state !== "stopped") this.state = "draining";
    this.client.close();
    await this.#container.remove({ force: true }).catch(() => {});
    this.state = "stopped";
    rmSync(this.socketDir, { recursive: true, force: true });
  }

  /** Whether the container is still there and its shim answers. */
  async responsive(timeoutMs: number): Promise<boolean> {
    if (this.exitInfo) return false;
    return this.client.healthy(timeoutMs);
  }

  async #waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => {
      exited = true;
    });
    while (Date.now() < deadline) {
      if (exited) {
        const info = this.exitInfo;
        throw new KumoError(
          info?.oomKilled ? "FN_003" : "FN_008",
          info?.oomKilled
            ? "the container ran out of memory while starting"
            : `the container exited with code ${info?.exitCode ?? "?"} while starting; see the function's logs`,
        );
      }
      // pin() throws when something other than the shim's socket is at its path: no retry.
      if (this.client.pin() && (await this.client.healthy(1000))) return;
      await new Promise((r) => setTimeout(r, 3));
    }
    throw new KumoError("FN_008", `the container did not become healthy within ${timeoutMs} ms`);
  }

  #followLogs(onLog: InstanceOptions["onLog"]): void {
    void this.#container
      .logs({ follow: true, stdout: true, stderr: true })
      .then((stream) => {
        const out = new PassThrough();
        const err = new PassThrough();
        this.#docker.modem.demuxStream(stream, out, err);
        stream.on("end", () => {
          out.end();
          err.end();
        });
        splitLines(out, (line) => {
          const parsed = parseLine(line, "info");
          // The shim's own readiness line (read by the builder's load check) is not the function's.
          if (parsed.message === "shim ready" && parsed.invocationId === null) return;
          onLog(this, parsed);
        });
        splitLines(err, (line) => onLog(this, parseLine(line, "error")));
      })
      .catch(() => {});
  }
}

function splitLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = "";
  stream.on("data", (chunk: Buffer) => {
    const text = rest + chunk.toString("utf8");
    const lines = text.split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") onLine(line);
  });
  stream.on("end", () => {
    if (rest.trim() !== "") onLine(rest);
  });
}

const LEVELS = new Set(["debug", "info", "warn", "error"]);

/**
 * The shims write JSON lines of their own shape, always with an `invocationId` key (null outside
 * invocations). Anything else (custom images, a JSON line a custom server writes itself) is kept
 * whole as the message at the stream's level: stdout info, stderr error; the log shipper then keeps
 * a JSON line's fields and level.
 */
function parseLine(line: string, fallback: ContainerLogLine["level"]): ContainerLogLine {
  const shim = line.startsWith("{") && line.includes('"invocationId"') ? jsonObject(line) : undefined;
  if (shim && Object.hasOwn(shim, "invocationId")) {
    const level = typeof shim.level === "string" && LEVELS.has(shim.level) ? shim.level : fallback;
    return {
      ts: typeof shim.ts === "number" ? shim.ts : Date.now(),
      level: level as ContainerLogLine["level"],
      invocationId: typeof shim.invocationId === "string" ? shim.invocationId : null,
      message: typeof shim.message === "string" ? shim.message : line,
    };
  }
  return { ts: Date.now(), level: fallback, invocationId: null, message: line };
}

function jsonObject(text: string): Partial<Record<string, unknown>> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
