import { PassThrough } from "node:stream";
import type { BridgedContainer, PortBridge } from "@kumo/core";
import { FUNCTION_USER, functionHostConfig, KumoError } from "@kumo/core";
import type Docker from "dockerode";

/** How long a function image gets to load its handler and say so. */
const LOAD_TIMEOUT_MS = 10_000;
/** The container's own lines quoted when it gives no loader error (it crashed, or never said ready). */
const QUOTED_LINES = 10;
/** Image ids that passed, so a cached image is not checked again while the builder runs. */
const REMEMBERED = 1000;

export interface LoadCheckOptions {
  docker: Docker;
  /** Labels on the check's container (dev.kumo.build=1 and the configured ones, as builds carry). */
  labels: Record<string, string>;
  memoryMb: number;
  timeoutMs?: number;
  /** Starts custom images that listen on a TCP port behind kumo-bridge, as the autoscaler does. */
  portBridge: PortBridge;
}

/** kumo.json's `port` and `healthPath` as the build request carries them (0 and "": unset). */
export interface LoadCheckPort {
  port: number;
  healthPath: string;
}

type LoadOutcome = { ok: true } | { ok: false; reason: string; lines: string[] };

/**
 * What the shims print once listening (runtimes/*\/shim), and kumo-bridge once the image's server
 * answers on its port: `state` "failed" when the handler did not load.
 */
interface ShimLine {
  message: string;
  state?: string;
}

/**
 * Starts a freshly built function image once, hardened as the autoscaler starts it (no network),
 * and waits for its shim's "shim ready" line: a baked image loads its handler before that line, so
 * a module that throws at import, has no handler the shim accepts, or does not parse fails the
 * build with FN_005 and the loader's own error, instead of deploying and timing out at the first call.
 * Custom images with kumo.json `port` start behind kumo-bridge, which says "shim ready" once their
 * server accepts connections (or its health path answers 2xx): one that never does fails the build
 * here, rather than every cold start timing out later. Custom images speaking the socket protocol
 * themselves (no `port`) print no such line, so they are not checked.
 */
export class LoadCheck {
  readonly #options: LoadCheckOptions;
  readonly #passed = new Set<string>();

  constructor(options: LoadCheckOptions) {
    this.#options = options;
  }

  async check(
    imageId: string,
    runtime: string,
    env: Record<string, string>,
    log: (line: string) => void,
    signal: AbortSignal,
    tcp: LoadCheckPort = { port: 0, healthPath: "" },
  ): Promise<void> {
    const port = runtime === "container" && tcp.port > 0 ? tcp : undefined;
    if (runtime === "container" && !port) {
      log(
        "load check: skipped for custom images on the socket protocol (their server answers at the first call)",
      );
      return;
    }
    // The same image may load with one env (or port) and not another: all make the key.
    const key = `${imageId} ${JSON.stringify(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1)))} ${port ? `${port.port}${port.healthPath}` : ""}`;
    if (this.#passed.has(key)) {
      log("load check: this image passed before");
      return;
    }
    const started = performance.now();
    let bridged: BridgedContainer | undefined;
    if (port) {
      const settings = { port: port.port, ...(port.healthPath ? { healthPath: port.healthPath } : {}) };
      bridged = await this.#options.portBridge.container(imageId, settings);
    }
    const container = await this.#options.docker.createContainer({
      Image: imageId,
      ...(bridged ? { Entrypoint: bridged.Entrypoint, Cmd: bridged.Cmd } : {}),
      User: `${FUNCTION_USER}:${FUNCTION_USER}`,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: { ...this.#options.labels },
      HostConfig: functionHostConfig({
        memoryMb: this.#options.memoryMb,
        cpus: 1,
        egress: false,
        ...(bridged ? { binds: [bridged.bind] } : {}),
        // The shim binds its socket there; nothing connects to it, the check reads the log.
        tmpfs: { "/run/kumo": `rw,nosuid,nodev,size=1m,uid=${FUNCTION_USER},gid=${FUNCTION_USER}` },
      }),
    });
    try {
      const notReady = port
        ? port.healthPath
          ? `GET ${port.healthPath} on its port ${port.port} did not answer 2xx`
          : `its server did not accept connections on port ${port.port}`
        : "it did not start";
      const outcome = await this.#watch(container, signal, notReady);
      const ms = Math.round(performance.now() - started);
      if (outcome.ok) {
        this.#remember(key);
        log(
          port
            ? `load check: the server answers on port ${port.port} (${ms} ms)`
            : `load check: the handler loaded (${ms} ms)`,
        );
        return;
      }
      for (const line of outcome.lines) log(`  ${line}`);
      throw new KumoError("FN_005", `the function does not load: ${outcome.reason}`, {
        details: { logTail: outcome.lines.join("\n") },
      });
    } finally {
      await container.remove({ force: true }).catch(() => {});
    }
  }

  async #watch(container: Docker.Container, signal: AbortSignal, notReady: string): Promise<LoadOutcome> {
    const lines: string[] = [];
    let loaderError: string | undefined;
    const timeoutMs = this.#options.timeoutMs ?? LOAD_TIMEOUT_MS;
    const quoted = () => lines.slice(-QUOTED_LINES);
    const exited = container.wait({ condition: "next-exit" });
    await container.start();
    const stream = await container.logs({ follow: true, stdout: true, stderr: true });
    const out = new PassThrough();
    this.#options.docker.modem.demuxStream(stream, out, out);
    let ended = false;
    stream.on("end", () => {
      ended = true;
      out.end();
    });
    try {
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          resolve({
            ok: false,
            reason: loaderError ?? `${notReady} within ${timeoutMs / 1000} s`,
            lines: quoted(),
          });
        }, timeoutMs);
        const finish = (value: LoadOutcome) => {
          clearTimeout(timer);
          resolve(value);
        };
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        let rest = "";
        out.on("data", (chunk: Buffer) => {
          const text = rest + chunk.toString("utf8");
          const split = text.split("\n");
          rest = split.pop() ?? "";
          for (const raw of split) {
            if (!raw.trim()) continue;
            const line = shimLine(raw);
            if (line?.message !== "shim ready") lines.push(line?.message ?? raw);
            if (line?.message.startsWith("cannot load handler")) loaderError = loaderText(line.message);
            if (line?.message === "shim ready") {
              finish(
                line.state === "failed"
                  ? { ok: false, reason: loaderError ?? "the handler did not load", lines: quoted() }
                  : { ok: true },
              );
            }
          }
        });
        void exited.then(
          (exit: { StatusCode?: number }) => {
            const failed = () =>
              finish({
                ok: false,
                reason:
                  loaderError ??
                  `it exited with code ${exit.StatusCode ?? "?"} while loading: ${quoted().join(" | ") || "no output"}`,
                lines: quoted(),
              });
            // Lines still in the log stream arrive before its end: wait for it (briefly).
            if (ended) failed();
            else {
              out.once("end", failed);
              setTimeout(failed, 1000).unref();
            }
          },
          () => {},
        );
      });
    } finally {
      stream.removeAllListeners();
      (stream as unknown as { destroy?: () => void }).destroy?.();
    }
  }

  #remember(key: string): void {
    if (this.#passed.size >= REMEMBERED) {
      const oldest = this.#passed.values().next();
      if (!oldest.done) this.#passed.delete(oldest.value);
    }
    this.#passed.add(key);
  }
}

function shimLine(raw: string): ShimLine | undefined {
  if (!raw.startsWith("{")) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { message, state } = parsed as Record<string, unknown>;
    if (typeof message !== "string") return undefined;
    return typeof state === "string" ? { message, state } : { message };
  } catch {
    return undefined;
  }
}

/** `cannot load handler "index" from /var/task: <error>` -> `<error>` with the handler named. */
function loaderText(message: string): string {
  const at = message.indexOf(": ");
  const what = message.slice("cannot load ".length, at < 0 ? undefined : at);
  return at < 0 ? message : `${what}: ${message.slice(at + 2)}`;
}
