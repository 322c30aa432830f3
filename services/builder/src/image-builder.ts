import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { KumoError } from "@kumo/core";
import { readSourceArchive, type SourceFiles, sourceDigest } from "@kumo/source";
import type Docker from "dockerode";
import { pack } from "tar-stream";
import { BuildLimiter } from "./build-limiter.ts";
import type { BuildRequestMessage, BuildResultMessage } from "./build-messages.ts";
import { type BuildPlan, CONTEXT_SOURCE_DIR, isBuildRuntime, planBuild } from "./build-plan.ts";
import type { BuilderConfig } from "./config.ts";
import type { ImageResolver } from "./runtime-images.ts";
import { plainLine, stepErrorLines } from "./step-error-lines.ts";

/** Bumped when generated Dockerfiles change meaning without their text changing. */
const BUILDER_RECIPE = "kumo-builder/1";
export const FUNCTION_IMAGE_REPO = "kumo/fn";
const LOG_TAIL_LINES = 30;
/** Engine bookkeeping that says nothing to the person reading a build log. */
const NOISE = /^( ---> Running in [0-9a-f]+|Removing intermediate container [0-9a-f]+)\s*$/;
const STEP = /^Step \d+\/\d+ : /;

export interface BuildOutput {
  result: BuildResultMessage;
  /** The image's /var/task as a tar (paths relative to it); absent for custom images. */
  codeTar: Buffer | undefined;
}

export interface ImageBuilderOptions {
  docker: Docker;
  config: Pick<
    BuilderConfig,
    "hostCaFile" | "extraCaCertsFile" | "buildTimeoutMs" | "buildMemoryMb" | "buildConcurrency" | "labels"
  >;
  resolveImages: ImageResolver;
}

/**
 * Source tar -> function image, through the local engine (dockerode, classic builder, tar context).
 * The image is tagged kumo/fn:<digest of recipe, runtime images, source, settings>, so the same
 * input never builds twice. Secrets are never an input: they are injected when containers start.
 */
export class ImageBuilder {
  readonly #docker: Docker;
  readonly #options: ImageBuilderOptions;
  readonly #limiter: BuildLimiter;

  constructor(options: ImageBuilderOptions) {
    this.#docker = options.docker;
    this.#options = options;
    this.#limiter = new BuildLimiter(options.config.buildConcurrency);
  }

  async build(
    request: BuildRequestMessage,
    emit: (line: string) => void,
    signal: AbortSignal,
  ): Promise<BuildOutput> {
    const tail: string[] = [];
    const log = (line: string) => {
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
      emit(line);
    };
    try {
      return await this.#build(request, log, signal);
    } catch (error) {
      const failure = asBuildError(error, this.#options.config.buildTimeoutMs, signal);
      throw new KumoError(failure.code, failure.message, { details: { logTail: tail.join("\n") } });
    }
  }

  async #build(
    request: BuildRequestMessage,
    log: (line: string) => void,
    signal: AbortSignal,
  ): Promise<BuildOutput> {
    const started = performance.now();
    const runtime = request.runtime;
    if (!isBuildRuntime(runtime)) {
      throw new KumoError(
        "FN_006",
        `the builder does not build runtime "${runtime}" (edge functions are bundled by the gateway)`,
      );
    }
    const files = withoutBuildLeftovers(await readSourceArchive(request.sourceTar), runtime, log);
    if (runtime === "container" && !files.has("Dockerfile")) {
      throw new KumoError("FN_005", 'runtime "container" needs a Dockerfile at the root of the source');
    }
    const images = await this.#options.resolveImages(runtime, log);
    const ca = this.#caBundle();
    // Build-stage images carry only these; configured labels (dev.kumo.test=1) go on the function image
    // alone, since a `docker image prune --filter label=...` elsewhere would delete dangling stages mid-build.
    const stableLabels = { "dev.kumo.build": "1", "dev.kumo.tenant": request.tenantId };
    const plan: BuildPlan = planBuild({
      runtime,
      handler: request.handler,
      files,
      images,
      withCa: ca !== undefined,
      labels: stableLabels,
      imageLabels: { "dev.kumo.function": request.functionName, ...this.#options.config.labels },
    });
    const digest = createHash("sha256")
      .update(
        JSON.stringify([BUILDER_RECIPE, request.tenantId, runtime, plan.dockerfile, sourceDigest(files)]),
      )
      .update(ca ? createHash("sha256").update(ca).digest("hex") : "no-extra-ca")
      .digest("hex")
      .slice(0, 40);
    const tag = `${FUNCTION_IMAGE_REPO}:${digest}`;
    log(`runtime ${runtime}: ${plan.summary}`);

    let cached = false;
    const existing = await this.#docker
      .getImage(tag)
      .inspect()
      .catch(() => undefined);
    if (existing) {
      cached = true;
      log(`image ${tag} exists (same source, runtime image and settings): nothing to build`);
    } else {
      await this.#limiter.run(async () => {
        log(`building ${tag}`);
        await this.#dockerBuild(
          tag,
          plan,
          files,
          ca,
          runtime,
          { ...stableLabels, "dev.kumo.function": request.functionName, ...this.#options.config.labels },
          log,
          signal,
        );
      }, signal);
    }
    const image = await this.#docker.getImage(tag).inspect();
    const codeTar = plan.hasCodeTree ? await this.#codeTree(tag) : undefined;
    const codeDigest = codeTar ? `sha256:${createHash("sha256").update(codeTar).digest("hex")}` : "";
    const buildMs = Math.round(performance.now() - started);
    log(`image ${tag} (${(image.Size / 1e6).toFixed(1)} MB) ready in ${(buildMs / 1000).toFixed(1)} s`);
    return {
      result: { image: tag, imageId: image.Id, codeDigest, cached, imageBytes: image.Size, buildMs, runtime },
      codeTar,
    };
  }

  /**
   * What dependency installs trust: the host's CA bundle (so a TLS-intercepting proxy the host trusts
   * works with no setting), or Node's bundled roots on a host without one, plus the extra CA
   * certificates. A whole bundle, not only the additions, since pip and SSL_CERT_FILE replace the
   * trust store rather than add to it. Read per build: a changed bundle changes the image digest.
   */
  #caBundle(): Buffer | undefined {
    const { hostCaFile, extraCaCertsFile } = this.#options.config;
    if (!hostCaFile && !extraCaCertsFile) return undefined;
    const base = hostCaFile ? readFileSync(hostCaFile, "utf8") : rootCertificates.join("\n");
    const extra = extraCaCertsFile ? readFileSync(extraCaCertsFile, "utf8") : "";
    return Buffer.from(`${base}\n${extra}\n`);
  }

  async #dockerBuild(
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
    const timeout = AbortSignal.timeout(this.#options.config.buildTimeoutMs);
    const abort = AbortSignal.any([signal, timeout]);
    const memory = this.#options.config.buildMemoryMb * 1024 * 1024;
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

  /** /var/task of the image as a tar with paths relative to it (for stem cells and downloads). */
  async #codeTree(tag: string): Promise<Buffer> {
    const container = await this.#docker.createContainer({
      Image: tag,
      Labels: { "dev.kumo.build": "1", ...this.#options.config.labels },
      NetworkDisabled: true,
    });
    try {
      const archive = await container.getArchive({ path: "/var/task/." });
      const chunks: Buffer[] = [];
      for await (const chunk of archive) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } finally {
      await container.remove({ force: true }).catch(() => {});
    }
  }
}

/** Drops what a build makes again (node_modules where dependencies are installed) and VCS data. */
function withoutBuildLeftovers(
  files: SourceFiles,
  runtime: string,
  log: (line: string) => void,
): SourceFiles {
  const installs = ["node", "bun", "deno"].includes(runtime) && files.has("package.json");
  const out: SourceFiles = new Map();
  let dropped = 0;
  for (const [path, content] of files) {
    const top = path.split("/")[0] ?? "";
    if (top === ".git" || (installs && top === "node_modules") || path.includes("__pycache__/")) {
      dropped++;
      continue;
    }
    out.set(path, content);
  }
  if (dropped > 0)
    log(`left out ${dropped} files (.git, node_modules, __pycache__: the build makes its own)`);
  return out;
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
