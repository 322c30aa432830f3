import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { KumoError } from "@kumo/core";
import type { SourceFiles } from "@kumo/source";
import type Docker from "dockerode";
import { pack } from "tar-stream";
import { BuildLimiter } from "./build-limiter.ts";
import { type BuildPlan, CONTEXT_SOURCE_DIR } from "./build-plan.ts";
import type { BuilderConfig } from "./config.ts";
import { plainLine, stepErrorLines } from "./step-error-lines.ts";

const LOG_TAIL_LINES = 30;
/** Engine bookkeeping that says nothing to the person reading a build log. */
const NOISE = /^( ---> Running in [0-9a-f]+|Removing intermediate container [0-9a-f]+)\s*$/;
const STEP = /^Step \d+\/\d+ : /;

export interface ImageEngineOptions {
  docker: Docker;
  config: Pick<
    BuilderConfig,
    "hostCaFile" | "extraCaCertsFile" | "buildTimeoutMs" | "buildMemoryMb" | "buildConcurrency" | "labels"
  >;
}

/**
 * What the builder's jobs (function images, edge dependency installs) do with the local engine:
 * build a generated Dockerfile with a tar context, read a path out of an image, and share one limit
 * on concurrent builds. Failures come out as FN_005 with the tool's own error line.
 */
export class ImageEngine {
  readonly #docker: Docker;
  readonly #config: ImageEngineOptions["config"];
  readonly #limiter: BuildLimiter;

  constructor(options: ImageEngineOptions) {
    this.#docker = options.docker;
    this.#config = options.config;
    this.#limiter = new BuildLimiter(options.config.buildConcurrency);
  }

  /** Whether the engine has an image with this tag. */
  async exists(tag: string): Promise<boolean> {
    return this.#docker
      .getImage(tag)
      .inspect()
      .then(
        () => true,
        () => false,
      );
  }

  /** The engine's record of an image (size, id). */
  inspect(tag: string): Promise<Docker.ImageInspectInfo> {
    return this.#docker.getImage(tag).inspect();
  }

  /** Runs `work` once a build slot is free (KUMO_BUILD_CONCURRENCY). */
  limited<T>(work: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return this.#limiter.run(work, signal);
  }

  /**
   * Runs a job whose log lines go to `emit`: a failure becomes a KumoError carrying the last lines
   * of the log (`details.logTail`), a timeout or cancellation FN_005, anything unexpected FN_500.
   */
  async logged<T>(
    emit: (line: string) => void,
    signal: AbortSignal,
    work: (log: (line: string) => void) => Promise<T>,
  ): Promise<T> {
    const tail: string[] = [];
    const log = (line: string) => {
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
      emit(line);
    };
    try {
      return await work(log);
    } catch (error) {
      const failure = asBuildError(error, this.#config.buildTimeoutMs, signal);
      // A failure that says which lines tell its cause (the load check: the container's) keeps them.
      const own =
        error instanceof KumoError ? (error.details as { logTail?: unknown } | undefined) : undefined;
      const logTail = typeof own?.logTail === "string" ? own.logTail : tail.join("\n");
      throw new KumoError(failure.code, failure.message, { details: { logTail } });
    }
  }

  /**
   * What dependency installs trust: the host's CA bundle (so a TLS-intercepting proxy the host trusts
   * works with no setting), or Node's bundled roots on a host without one, plus the extra CA
   * certificates. A whole bundle, not only the additions, since pip and SSL_CERT_FILE replace the
   * trust store rather than add to it. Read per build: a changed bundle changes the image digest.
   */
  caBundle(): Buffer | undefined {
    const { hostCaFile, extraCaCertsFile } = this.#config;
    if (!hostCaFile && !extraCaCertsFile) return undefined;
    const base = hostCaFile ? readFileSync(hostCaFile, "utf8") : rootCertificates.join("\n");
    const extra = extraCaCertsFile ? readFileSync(extraCaCertsFile, "utf8") : "";
    return Buffer.from(`${base}\n${extra}\n`);
  }

  async build(
    tag: string,
    plan: BuildPlan,
    files: SourceFiles,
    ca: Buffer | undefined,
    runtime: string,
    labels: Record<string, string>,
    log: (line: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const custom = runtime === "container";
    const context = await packContext(files, custom ? undefined : { dockerfile: plan.dockerfile, ca });
    const timeout = AbortSignal.timeout(this.#config.buildTimeoutMs);
    const abort = AbortSignal.any([signal, timeout]);
    const memory = this.#config.buildMemoryMb * 1024 * 1024;
    const stream = await this.#docker.buildImage(
      context as unknown as NodeJS.ReadableStream,
      {
        t: tag,
        dockerfile: custom ? "Dockerfile" : "kumo/Dockerfile",
        ...(custom ? { labels } : {}),
        rm: true,
        forcerm: true,
        memory,
        memswap: memory,
        abortSignal: abort,
      } as Docker.ImageBuildOptions,
    );
    await new Promise<void>((resolve, reject) => {
      let failure: string | undefined;
      // The output of the step that is running: when it fails, its tool's own error lines name the cause.
      let stepOutput: string[] = [];
      const onAbort = () => {
        (stream as unknown as { destroy?: (e: Error) => void }).destroy?.(new Error("aborted"));
        reject(abort.reason);
      };
      abort.addEventListener("abort", onAbort, { once: true });
      this.#docker.modem.followProgress(
        stream,
        (error: Error | null) => {
          abort.removeEventListener("abort", onAbort);
          if (abort.aborted) return reject(abort.reason);
          if (error) return reject(new KumoError("FN_005", `build failed: ${error.message}`));
          if (failure) {
            const said = stepErrorLines(stepOutput);
            return reject(
              new KumoError("FN_005", `build failed: ${said.length > 0 ? said.join("; ") : failure}`),
            );
          }
          resolve();
        },
        (event: { stream?: string; error?: string; status?: string }) => {
          if (event.error) {
            failure = event.error.trim();
            log(`error: ${failure}`);
          }
          for (const raw of (event.stream ?? "").split("\n")) {
            const line = plainLine(raw);
            if (!line.trim() || NOISE.test(line)) continue;
            if (STEP.test(line)) stepOutput = [];
            else stepOutput.push(line);
            log(line);
          }
        },
      );
    });
  }

  /**
   * A path of the image as the engine's tar (`/var/task/.`: paths relative to it, for stem cells and
   * downloads; `/build/node_modules`: paths under node_modules/), read from a container never started.
   */
  async archive(tag: string, path: string): Promise<Buffer> {
    const container = await this.#docker.createContainer({
      Image: tag,
      Labels: { "dev.kumo.build": "1", ...this.#config.labels },
      NetworkDisabled: true,
    });
    try {
      return await collect(await container.getArchive({ path }));
    } finally {
      await container.remove({ force: true }).catch(() => {});
    }
  }
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function packContext(
  files: SourceFiles,
  generated: { dockerfile: string; ca: Buffer | undefined } | undefined,
): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on("data", (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    tar.on("end", () => resolve());
    tar.on("error", reject);
  });
  const prefix = generated ? `${CONTEXT_SOURCE_DIR}/` : "";
  const add = (name: string, content: Uint8Array) =>
    tar.entry({ name, size: content.byteLength, mode: 0o644, mtime: new Date(0) }, Buffer.from(content));
  if (generated) {
    tar.entry({ name: `${CONTEXT_SOURCE_DIR}/`, type: "directory", mode: 0o755, mtime: new Date(0) });
    add("kumo/Dockerfile", Buffer.from(generated.dockerfile));
    if (generated.ca) add("kumo/ca.pem", generated.ca);
  }
  for (const path of [...files.keys()].sort()) add(`${prefix}${path}`, files.get(path) ?? new Uint8Array());
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

function asBuildError(
  error: unknown,
  timeoutMs: number,
  signal: AbortSignal,
): { code: KumoError["code"]; message: string } {
  if (error instanceof KumoError) return { code: error.code, message: error.message };
  if (signal.aborted) return { code: "FN_005", message: "the build was cancelled" };
  const name = error instanceof Error ? error.name : "";
  if (name === "TimeoutError" || name === "AbortError")
    return {
      code: "FN_005",
      message: `the build took longer than ${Math.round(timeoutMs / 1000)} s and was stopped`,
    };
  const message = error instanceof Error ? error.message : String(error);
  return { code: "FN_500", message: `builder error: ${message}` };
}
