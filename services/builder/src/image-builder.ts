import { createHash } from "node:crypto";
import { KumoError, runtimeFamily } from "@kumo/core";
import { readSourceArchive, type SourceFiles, sourceDigest } from "@kumo/source";
import type { BuildRequestMessage, BuildResultMessage } from "./build-messages.ts";
import { type BuildPlan, isBuildRuntime, planBuild } from "./build-plan.ts";
import type { BuilderConfig } from "./config.ts";
import type { ImageEngine } from "./image-engine.ts";
import type { LoadCheck } from "./load-check.ts";
import type { ImageResolver } from "./runtime-images.ts";

/** Bumped when generated Dockerfiles change meaning without their text changing. */
export const BUILDER_RECIPE = "kumo-builder/1";
export const FUNCTION_IMAGE_REPO = "kumo/fn";

export interface BuildOutput {
  result: BuildResultMessage;
  /** The image's /var/task as a tar (paths relative to it); absent for custom images. */
  codeTar: Buffer | undefined;
}

export interface ImageBuilderOptions {
  engine: ImageEngine;
  config: Pick<BuilderConfig, "labels" | "jsrUrl">;
  resolveImages: ImageResolver;
  /** Starts each built image once and fails the build when its handler does not load. */
  loadCheck?: LoadCheck;
}

/**
 * Source tar -> function image, through the local engine (dockerode, classic builder, tar context).
 * The image is tagged kumo/fn:<digest of recipe, runtime images, source, settings>, so the same
 * input never builds twice. Secrets are never an input: they are injected when containers start.
 */
export class ImageBuilder {
  readonly #engine: ImageEngine;
  readonly #options: ImageBuilderOptions;

  constructor(options: ImageBuilderOptions) {
    this.#engine = options.engine;
    this.#options = options;
  }

  build(
    request: BuildRequestMessage,
    emit: (line: string) => void,
    signal: AbortSignal,
  ): Promise<BuildOutput> {
    return this.#engine.logged(emit, signal, (log) => this.#build(request, log, signal));
  }

  async #build(
    request: BuildRequestMessage,
    log: (line: string) => void,
    signal: AbortSignal,
  ): Promise<BuildOutput> {
    const started = performance.now();
    // A pinned version ("node22") builds like its family on that version's images.
    const runtime = runtimeFamily(request.runtime);
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
    const images = await this.#options.resolveImages(request.runtime, log);
    const ca = this.#engine.caBundle();
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
      ...(this.#options.config.jsrUrl ? { jsrUrl: this.#options.config.jsrUrl } : {}),
    });
    const digest = createHash("sha256")
      .update(
        JSON.stringify([
          BUILDER_RECIPE,
          request.tenantId,
          request.runtime,
          plan.dockerfile,
          sourceDigest(files),
        ]),
      )
      .update(ca ? createHash("sha256").update(ca).digest("hex") : "no-extra-ca")
      .digest("hex")
      .slice(0, 40);
    const tag = `${FUNCTION_IMAGE_REPO}:${digest}`;
    log(`runtime ${request.runtime}: ${plan.summary}`);

    let cached = false;
    if (await this.#engine.exists(tag)) {
      cached = true;
      log(`image ${tag} exists (same source, runtime image and settings): nothing to build`);
    } else {
      await this.#engine.limited(async () => {
        log(`building ${tag}`);
        await this.#engine.build(
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
    const image = await this.#engine.inspect(tag);
    // The load check starts the image while the code tree is read out of it: neither waits on the other.
    const [codeTar] = await Promise.all([
      plan.hasCodeTree ? this.#engine.archive(tag, "/var/task/.") : undefined,
      this.#options.loadCheck?.check(image.Id, runtime, request.env ?? {}, log, signal, {
        port: request.port ?? 0,
        healthPath: request.healthPath ?? "",
      }),
    ]);
    const codeDigest = codeTar ? `sha256:${createHash("sha256").update(codeTar).digest("hex")}` : "";
    const buildMs = Math.round(performance.now() - started);
    log(`image ${tag} (${(image.Size / 1e6).toFixed(1)} MB) ready in ${(buildMs / 1000).toFixed(1)} s`);
    return {
      result: {
        image: tag,
        imageId: image.Id,
        codeDigest,
        cached,
        imageBytes: image.Size,
        buildMs,
        runtime: request.runtime,
      },
      codeTar,
    };
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
