import { createHash } from "node:crypto";
import { KumoError } from "@kumo/core";
import { readSourceArchive, sourceDigest } from "@kumo/source";
import type { EdgeDependenciesRequestMessage, EdgeDependenciesResultMessage } from "./build-messages.ts";
import { EDGE_DEPENDENCIES_DIR, planEdgeDependencies } from "./build-plan.ts";
import type { BuilderConfig } from "./config.ts";
import { BUILDER_RECIPE } from "./image-builder.ts";
import type { ImageEngine } from "./image-engine.ts";
import { regularFilesTar } from "./regular-files-tar.ts";
import type { ImageResolver } from "./runtime-images.ts";

/** Images that hold one edge function dependency install (a cache: nothing runs them). */
export const EDGE_DEPENDENCIES_IMAGE_REPO = "kumo/edge-deps";
/** What an edge install may be made of: anything else in the manifests tar is refused. */
const EDGE_MANIFESTS = new Set(["package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"]);

export interface EdgeDependencyBuilderOptions {
  engine: ImageEngine;
  config: Pick<BuilderConfig, "labels">;
  resolveImages: ImageResolver;
}

/**
 * Installs an edge function's npm dependencies in the node build image and returns node_modules
 * as a tar of regular files. The image kumo/edge-deps:<digest of recipe, tenant, build image,
 * manifests, CA> is the cache: a second request for the same manifests copies node_modules out of it.
 */
export class EdgeDependencyBuilder {
  readonly #engine: ImageEngine;
  readonly #options: EdgeDependencyBuilderOptions;

  constructor(options: EdgeDependencyBuilderOptions) {
    this.#engine = options.engine;
    this.#options = options;
  }

  install(
    request: EdgeDependenciesRequestMessage,
    emit: (line: string) => void,
    signal: AbortSignal,
  ): Promise<{ result: EdgeDependenciesResultMessage; tar: Buffer }> {
    return this.#engine.logged(emit, signal, (log) => this.#install(request, log, signal));
  }

  async #install(
    request: EdgeDependenciesRequestMessage,
    log: (line: string) => void,
    signal: AbortSignal,
  ): Promise<{ result: EdgeDependenciesResultMessage; tar: Buffer }> {
    const started = performance.now();
    const files = await readSourceArchive(request.manifestsTar);
    const unexpected = [...files.keys()].filter((path) => !EDGE_MANIFESTS.has(path));
    if (!files.has("package.json") || unexpected.length > 0) {
      throw new KumoError(
        "FN_006",
        `an edge dependency install takes package.json and optionally ${[...EDGE_MANIFESTS].slice(1).join(", ")}${unexpected.length > 0 ? `; got ${unexpected.slice(0, 5).join(", ")}` : ""}`,
      );
    }
    const images = await this.#options.resolveImages("node", log);
    const ca = this.#engine.caBundle();
    const labels = { "dev.kumo.build": "1", "dev.kumo.tenant": request.tenantId };
    const plan = planEdgeDependencies({
      files,
      images,
      withCa: ca !== undefined,
      labels,
      imageLabels: { "dev.kumo.function": request.functionName, ...this.#options.config.labels },
    });
    const digest = createHash("sha256")
      .update(JSON.stringify([BUILDER_RECIPE, request.tenantId, plan.dockerfile, sourceDigest(files)]))
      .update(ca ? createHash("sha256").update(ca).digest("hex") : "no-extra-ca")
      .digest("hex");
    const tag = `${EDGE_DEPENDENCIES_IMAGE_REPO}:${digest.slice(0, 40)}`;
    log(plan.summary);
    const cached = await this.#engine.exists(tag);
    if (cached) {
      log(`dependencies ${digest.slice(0, 12)} were installed before: npm does not run`);
    } else if (request.cachedOnly) {
      throw new KumoError(
        "FN_006",
        "these dependencies are not installed yet: deploy the function once (the deploy installs them), then test it",
      );
    } else {
      await this.#engine.limited(async () => {
        log(`installing into ${tag}`);
        await this.#engine.build(tag, plan, files, ca, "node", labels, log, signal);
      }, signal);
    }
    const packed = await regularFilesTar(
      await this.#engine.archive(tag, `${EDGE_DEPENDENCIES_DIR}/node_modules`),
    );
    const installMs = Math.round(performance.now() - started);
    log(
      `node_modules: ${packed.files} files, ${(packed.bytes / 1e6).toFixed(1)} MB${packed.dropped > 0 ? ` (${packed.dropped} links left out)` : ""}, ready in ${(installMs / 1000).toFixed(1)} s`,
    );
    return {
      result: { digest, cached, installMs, files: packed.files, bytes: packed.bytes },
      tar: packed.tar,
    };
  }
}
