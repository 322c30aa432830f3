import { connectBus, type NatsConnection } from "@kumo/bus";
import { PortBridge, serveHealth, succeeds } from "@kumo/core";
import Docker from "dockerode";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { serveBuildService } from "./build-server.ts";
import type { BuilderConfig } from "./config.ts";
import { EdgeDependencyBuilder } from "./edge-dependency-builder.ts";
import { GitFetcher } from "./git-fetcher.ts";
import { ImageBuilder } from "./image-builder.ts";
import { ImageEngine } from "./image-engine.ts";
import { LoadCheck } from "./load-check.ts";
import { createImageResolver, type EnsureImages, type ImageResolver } from "./runtime-images.ts";

export { type BuildCallOptions, BuildClient, type BuildOutcome } from "./build-client.ts";
export { BUILD_RUNTIMES, type BuildRuntime } from "./build-plan.ts";
export { type BuilderConfig, loadBuilderConfig } from "./config.ts";
export { EDGE_DEPENDENCIES_IMAGE_REPO } from "./edge-dependency-builder.ts";
export { FUNCTION_IMAGE_REPO } from "./image-builder.ts";
export type { EnsureImages, ImageResolver } from "./runtime-images.ts";

export interface BuilderDeps {
  nats?: NatsConnection;
  docker?: Docker;
  /** Where runtime images come from; by default the engine's `kumo/<runtime>:latest` images. */
  resolveImages?: ImageResolver;
  /** Builds missing runtime images first (a checkout's scripts/images.mjs `ensureImages`). */
  ensureImages?: EnsureImages;
  log?: (line: string) => void;
}

export interface Builder {
  /** The health/metrics URL. */
  url: string;
  /** The gRPC BuildService address (host:port or unix:/path) for BuildClient. */
  grpcAddress: string;
  stop(): Promise<void>;
}

/**
 * The image builder service: the gRPC BuildService (source tar or git URL -> function image through
 * the local Docker engine), edge functions' npm installs (node_modules back to the gateway, which
 * bundles edge functions), plus health and metrics.
 */
export async function start(config: BuilderConfig, deps: BuilderDeps = {}): Promise<Builder> {
  const nc = deps.nats ?? (await connectBus({ url: config.natsUrl, name: "kumo-builder" }));
  const docker = deps.docker ?? new Docker({ socketPath: config.dockerSocket });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "kumo_builder_" });
  // One engine (and so one limit on concurrent builds) for function images and edge installs.
  const engine = new ImageEngine({ docker, config });
  const resolveImages =
    deps.resolveImages ??
    createImageResolver({ docker, ...(deps.ensureImages ? { ensureImages: deps.ensureImages } : {}) });
  const ensureImages = deps.ensureImages;
  const loadCheck = new LoadCheck({
    docker,
    labels: { "dev.kumo.build": "1", ...config.labels },
    memoryMb: config.buildMemoryMb,
    portBridge: new PortBridge({
      docker,
      labels: { "dev.kumo.build": "1", ...config.labels },
      // Custom images with `port` need the bridge image ("container" in deploy/images/recipes.json).
      ...(ensureImages
        ? {
            ensureImage: async () => {
              const result = await ensureImages({ only: ["container"] });
              if (!result.ok)
                throw new Error(`the port bridge image failed to build: ${JSON.stringify(result.failed)}`);
            },
          }
        : {}),
    }),
  });
  const builder = new ImageBuilder({ engine, config, resolveImages, loadCheck });
  const edgeDependencies = new EdgeDependencyBuilder({ engine, config, resolveImages });
  const git = new GitFetcher({
    allowFile: config.gitAllowFile,
    allowPrivate: config.gitAllowPrivate,
    timeoutMs: config.gitTimeoutMs,
    ...(deps.log ? { log: deps.log } : {}),
  });
  const builds = new Counter({
    name: "kumo_builds_total",
    help: "Builds by outcome (succeeded, failed) and error code",
    labelNames: ["outcome", "code"],
    registers: [registry],
  });
  const buildSeconds = new Histogram({
    name: "kumo_build_duration_seconds",
    help: "Build duration, source received to image tagged (cached builds included)",
    labelNames: ["outcome"],
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  });
  const grpcServer = await serveBuildService(config.listen, {
    builder,
    edgeDependencies,
    git,
    onError: (error) => deps.log?.(`builder: ${String(error)}`),
    onBuild: ({ ok, code, seconds }) => {
      const outcome = ok ? "succeeded" : "failed";
      builds.inc({ outcome, code });
      buildSeconds.observe({ outcome }, seconds);
    },
  });
  const health = await serveHealth({
    host: config.host,
    port: config.port,
    checks: async () => ({
      nats: !nc.isClosed(),
      docker: await succeeds(docker.ping()),
    }),
    metrics: registry,
  });
  return {
    url: health.url,
    grpcAddress: grpcServer.address,
    async stop() {
      await grpcServer.close();
      await health.close();
      if (!deps.nats) await nc.drain();
    },
  };
}
