import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type FunctionConfig,
  functionConfigSchema,
  isEdgeRuntime,
  KumoError,
  parseOrThrow,
  toKumoError,
} from "@kumo/core";
import type { DeploymentRow, FunctionRow, TenantStore } from "@kumo/db";
import {
  chooseRuntime,
  packSourceArchive,
  readSourceArchive,
  type SourceFiles,
  sourceDigest,
} from "@kumo/source";
import { ATTR, contextOf, endSpan, SpanKind, traceparentOf, tracerFor } from "@kumo/telemetry";
import { DeploymentLog } from "./deployment-log.ts";
import {
  EdgeDependencies,
  type EdgeDependencyInstaller,
  type EdgeDependencySet,
  edgeDependencySet,
  type NodeModulesOptions,
} from "./edge-dependencies.ts";
import { pruneVersions } from "./prune-versions.ts";
import { releaseVersion } from "./release-version.ts";

/** Bundles edge code; injected so the gateway does not care how. */
export type EdgeBundler = (
  files: Record<string, string>,
  options: {
    entry?: string;
    /** A directory with the function's installed node_modules, for its bare imports. */
    nodeModulesDir?: string;
    /** Largest bundle accepted, in bytes (the bundler's default without it). */
    maxBytes?: number;
    /** kumo.json's `compatibility` (["nodejs"]: the Node layer). */
    compatibility?: readonly string[];
    /** kumo.json's `handlerShape`: the bundler refuses the shapes edge cannot run (FN_005). */
    handlerShape?: string;
  },
) => Promise<{
  code: string;
  digest: string;
  warnings: string[];
  codeBytes?: number;
  sourceMapBytes?: number;
}>;

/** What the Deployer needs of the builder service (BuildClient over gRPC, in production). */
export interface ImageBuildClient {
  build(
    request: {
      tenantId: string;
      functionName: string;
      runtime: string;
      handler: string;
      sourceTar: Buffer;
      deploymentId: string;
      /** The function's plain env, for the builder's load check (never secrets). */
      env?: Record<string, string>;
    },
    options: {
      onLog?: (line: string) => void;
      /** The deploy span's context: the builder's build span is its child. */
      traceparent?: string;
    },
  ): Promise<{ result: { image: string; codeDigest: string; cached: boolean }; codeTar: Buffer | undefined }>;
  /** A shallow fetch of a git ref, as a tar of its tree. */
  fetchGit(url: string, ref: string): Promise<{ tar: Buffer; commit: string }>;
  /** Installs an edge function's npm dependencies; without it, such functions are refused (FN_006). */
  installEdgeDependencies?: EdgeDependencyInstaller["installEdgeDependencies"];
}

export interface DeployerOptions {
  bundleEdge: EdgeBundler;
  /** Builds container runtimes; without one, deploying them is refused with FN_006. */
  builder?: ImageBuildClient;
  /** Called after a version goes live so caches drop the old routing. */
  onChange: (tenantId: string, functionId: string) => void;
  /** Versions kept per function; older ones nothing points at are pruned after each deploy. */
  versionRetention?: number;
  /** Reports a failed pruning (the deploy itself succeeded). */
  onError?: (error: unknown) => void;
  /** Where installed edge dependencies are kept (a directory per dependency set); default: none kept. */
  edgeDependencyCacheDir?: string;
  /** Largest edge bundle accepted, in bytes (the bundler's default, 10 MiB, without it). */
  edgeBundleMaxBytes?: number;
}

export interface DeployInput {
  store: TenantStore;
  fn: FunctionRow;
  files: SourceFiles;
  sourceKind: "upload" | "files" | "git" | "push";
  actor: string;
  /** Each build log line as it happens (git push shows them as progress). */
  onLog?: (line: string) => void;
  /** First lines of the log (e.g. which commit a git source is). */
  note?: string;
  /** The deploying request's trace context: the deploy span joins it (a trace of its own without one). */
  traceparent?: string | undefined;
}

export interface DeployOutcome {
  /** The deployment as it is when deploy() returns: finished for edge, queued for container builds. */
  deployment: DeploymentRow;
  fn: FunctionRow;
  /** The deployment once finished (succeeded or failed); never rejects. */
  done: Promise<DeploymentRow>;
}

/**
 * Turns source into an immutable version and points "live" at it. Edge functions are bundled here
 * (milliseconds, plus the builder's npm install the first time a dependency set is seen) before
 * deploy() returns; container runtimes are built by the builder service in the
 * background: deploy() returns the queued deployment at once, and the build log streams into it.
 */
export class Deployer {
  readonly #options: DeployerOptions;
  readonly #dependencies: EdgeDependencies;

  constructor(options: DeployerOptions) {
    this.#options = options;
    const installer = options.builder?.installEdgeDependencies
      ? { installEdgeDependencies: options.builder.installEdgeDependencies.bind(options.builder) }
      : undefined;
    this.#dependencies = new EdgeDependencies({
      cacheDir: options.edgeDependencyCacheDir ?? join(tmpdir(), "kumo-edge-deps"),
      installer,
    });
  }

  /**
   * Bundles unsaved edge source for a draft run (the editor's "Test"): the configuration it would
   * deploy with and its code, without storing anything. FN_006 for runtimes built into images.
   */
  async bundleDraft(fn: FunctionRow, files: SourceFiles): Promise<{ config: FunctionConfig; code: string }> {
    const config = configFromSource(fn, files);
    if (!isEdgeRuntime(config.runtime)) {
      throw new KumoError(
        "FN_006",
        `draft runs need the edge runtime; runtime "${config.runtime}" is built into an image, so deploy it and test it through an alias that takes no traffic (PUT /v1/functions/${fn.name}/aliases/preview)`,
      );
    }
    return { config, code: await this.bundleCode(config, files, fn.tenant_id) };
  }

  /**
   * Bundles edge source with a configuration already decided (`POST /v1/run`, which has no function).
   * npm dependencies come from an install a deploy made (this gateway's cache or the builder's);
   * a draft never starts an install: FN_006 says to deploy first.
   */
  async bundleCode(config: FunctionConfig, files: SourceFiles, tenantId?: string): Promise<string> {
    const bundle = await this.#bundle(config, files, (set) => {
      if (tenantId === undefined)
        throw new KumoError(
          "FN_006",
          "draft runs with npm dependencies need a tenant's installed dependencies",
        );
      return this.#dependencies.nodeModules(tenantId, set, {
        functionName: "draft",
        deploymentId: "draft",
        install: false,
      });
    });
    return bundle.code;
  }

  /** Bundles edge source; `nodeModules` is asked for a directory only when package.json has dependencies. */
  async #bundle(
    config: FunctionConfig,
    files: SourceFiles,
    nodeModules: (set: EdgeDependencySet) => Promise<{ dir: string }>,
  ): Promise<Awaited<ReturnType<EdgeBundler>>> {
    const set = edgeDependencySet(files);
    const nodeModulesDir = set ? (await nodeModules(set)).dir : undefined;
    const sources: Record<string, string> = {};
    for (const [path, content] of files) sources[path] = Buffer.from(content).toString("utf8");
    return this.#options.bundleEdge(sources, {
      ...(config.handler ? { entry: config.handler } : {}),
      ...(nodeModulesDir ? { nodeModulesDir } : {}),
      ...(this.#options.edgeBundleMaxBytes ? { maxBytes: this.#options.edgeBundleMaxBytes } : {}),
      ...(config.compatibility ? { compatibility: config.compatibility } : {}),
      ...(config.handlerShape ? { handlerShape: config.handlerShape } : {}),
    });
  }

  /** Fetches a git source through the builder (which owns git access); FN_006 when it cannot. */
  async fetchGit(url: string, ref: string): Promise<{ files: SourceFiles; commit: string }> {
    if (!this.#options.builder) {
      throw new KumoError(
        "FN_006",
        "git sources are fetched by the builder service, and this gateway has none configured (KUMO_BUILDER_URL)",
      );
    }
    const { tar, commit } = await this.#options.builder.fetchGit(url, ref);
    return { files: await readSourceArchive(tar), commit };
  }

  async deploy(input: DeployInput): Promise<DeployOutcome> {
    const { store, actor, files } = input;
    const config = configFromSource(input.fn, files);
    if (!isEdgeRuntime(config.runtime) && !this.#options.builder) {
      throw new KumoError(
        "FN_006",
        `runtime "${config.runtime}" is built into a container image by the builder service, and this gateway has none configured (KUMO_BUILDER_URL)`,
      );
    }
    const fn =
      config.runtime === input.fn.runtime && JSON.stringify(config) === JSON.stringify(input.fn.config)
        ? input.fn
        : ((await store.functions.updateConfig(input.fn.id, config.runtime, config)) ?? input.fn);
    const deployment = await store.deployments.create({
      functionId: fn.id,
      sourceKind: input.sourceKind,
      createdBy: actor,
    });
    if (!isEdgeRuntime(config.runtime)) {
      const done = this.#buildContainer({ ...input, fn }, config, deployment);
      return { deployment, fn, done };
    }
    const digest = sourceDigest(files);
    const log: string[] = [...(input.note ? [input.note] : []), `source ${digest} (${files.size} files)`];
    try {
      await store.deployments.setStatus(deployment.id, "building", { sourceDigest: digest });
      // Kept beside the bundle so the console's editor opens what was written, not what esbuild made of it.
      await store.artifacts.put(digest, "source-tar", await packSourceArchive(files));
      let started = performance.now();
      const bundle = await this.#bundle(config, files, async (set) => {
        const options: NodeModulesOptions = {
          functionName: fn.name,
          deploymentId: deployment.id,
          install: true,
          onLog: (line) => {
            log.push(`  ${line}`);
            input.onLog?.(line);
          },
        };
        const got = await this.#dependencies.nodeModules(store.tenantId, set, options);
        log.push(
          `dependencies: ${set.count} packages (${set.lockfile ?? "no lockfile"}) from the ${got.source === "installed" ? "builder (installed now)" : got.source} in ${(performance.now() - started).toFixed(0)} ms`,
        );
        started = performance.now();
        return got;
      });
      log.push(
        `bundled ${bundle.codeBytes ?? bundle.code.length} bytes${bundle.sourceMapBytes ? ` (+ ${bundle.sourceMapBytes} bytes of source map)` : ""} in ${(performance.now() - started).toFixed(1)} ms`,
      );
      for (const warning of bundle.warnings) log.push(`warning: ${warning}`);
      await store.artifacts.put(bundle.digest, "edge-bundle", Buffer.from(bundle.code));
      const version = await releaseVersion({
        store,
        fn,
        config,
        deploymentId: deployment.id,
        actor,
        sourceDigest: digest,
        artifact: bundle.digest,
      });
      log.push(`version ${version.version} is live`);
      await store.deployments.appendLog(deployment.id, `${log.join("\n")}\n`);
      const done = await store.deployments.setStatus(deployment.id, "succeeded", {
        version: version.version,
      });
      this.#options.onChange(store.tenantId, fn.id);
      if (this.#options.versionRetention !== undefined) {
        await pruneVersions(store, fn, this.#options.versionRetention, actor).catch((error: unknown) =>
          this.#options.onError?.(error),
        );
      }
      const finished = done ?? deployment;
      return { deployment: finished, fn, done: Promise.resolve(finished) };
    } catch (error) {
      const failure = error instanceof KumoError ? error : toKumoError(error);
      const code = failure.code === "FN_006" || failure.code === "FN_005" ? failure.code : "FN_005";
      log.push(`error ${failure.code}: ${failure.message}`);
      await store.deployments.appendLog(deployment.id, `${log.join("\n")}\n`);
      await store.deployments.setStatus(deployment.id, "failed", {
        errorCode: code,
        errorMessage: failure.message,
      });
      throw new KumoError(code, `deployment ${deployment.id} failed: ${failure.message}`, {
        details: { deploymentId: deployment.id, ...(isRecord(failure.details) ? failure.details : {}) },
      });
    }
  }

  /** The background half of a container deploy; resolves with the finished deployment, never rejects. */
  async #buildContainer(
    input: DeployInput,
    config: FunctionConfig,
    deployment: DeploymentRow,
  ): Promise<DeploymentRow> {
    const { store, fn, files, actor } = input;
    const builder = this.#options.builder;
    const log = new DeploymentLog(store, deployment.id, input.onLog);
    if (input.note) log.line(input.note);
    // While tracing is on, one span per container deploy; the builder's build span is its child.
    const span = tracerFor(input.traceparent)?.startSpan(
      `deploy ${fn.name}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR.tenantId]: store.tenantId,
          [ATTR.faasName]: fn.name,
          [ATTR.runtime]: config.runtime,
          [ATTR.deploymentId]: deployment.id,
        },
      },
      contextOf(input.traceparent),
    );
    try {
      if (!builder) throw new KumoError("FN_006", "no builder configured");
      const digest = sourceDigest(files);
      await store.deployments.setStatus(deployment.id, "building", { sourceDigest: digest });
      const detected = chooseRuntime(input.fn.runtime, files.keys());
      log.line(
        `source ${digest} (${files.size} files), runtime ${config.runtime}${detected.file ? ` (${detected.file})` : ""}`,
      );
      const sourceTar = await packSourceArchive(files);
      await store.artifacts.put(digest, "source-tar", sourceTar);
      const { result, codeTar } = await builder.build(
        {
          tenantId: store.tenantId,
          functionName: fn.name,
          runtime: config.runtime,
          handler: config.handler ?? "",
          sourceTar,
          deploymentId: deployment.id,
          env: config.env ?? {},
          ...(config.port !== undefined ? { port: config.port } : {}),
          ...(config.healthPath !== undefined ? { healthPath: config.healthPath } : {}),
        },
        { onLog: (line) => log.line(line), ...(span ? { traceparent: traceparentOf(span) } : {}) },
      );
      if (codeTar && result.codeDigest) await store.artifacts.put(result.codeDigest, "code-tar", codeTar);
      const version = await releaseVersion({
        store,
        fn,
        config,
        deploymentId: deployment.id,
        actor,
        sourceDigest: digest,
        artifact: result.image,
        codeArtifact: result.codeDigest || null,
      });
      log.line(`version ${version.version} is live (${result.image})`);
      await log.flush();
      const done = await store.deployments.setStatus(deployment.id, "succeeded", {
        version: version.version,
      });
      this.#options.onChange(store.tenantId, fn.id);
      if (this.#options.versionRetention !== undefined) {
        await pruneVersions(store, fn, this.#options.versionRetention, actor).catch((error: unknown) =>
          this.#options.onError?.(error),
        );
      }
      if (span) {
        span.setAttributes({
          [ATTR.faasVersion]: String(version.version),
          "kumo.build.cached": result.cached,
        });
        endSpan(span);
      }
      return done ?? deployment;
    } catch (error) {
      const failure = error instanceof KumoError ? error : toKumoError(error);
      if (span) endSpan(span, failure);
      if (failure.code === "FN_500") this.#options.onError?.(error);
      const code = failure.code === "FN_006" ? "FN_006" : "FN_005";
      log.line(`error ${code}: ${failure.message}`);
      await log.flush();
      const tail =
        isRecord(failure.details) && typeof failure.details.logTail === "string" && failure.details.logTail
          ? failure.details.logTail
          : log.tail();
      const lastLines = tail.split("\n").slice(-15).join("\n");
      const failed = await store.deployments
        .setStatus(deployment.id, "failed", {
          errorCode: code,
          errorMessage: `${failure.message}\n--- end of the build log ---\n${lastLines}`,
        })
        .catch(() => undefined);
      return failed ?? deployment;
    }
  }
}

/** kumo.json in the source, when present, is the function's configuration from now on. */
function configFromSource(fn: FunctionRow, files: SourceFiles): FunctionConfig {
  const file = files.get("kumo.json");
  // Without kumo.json naming one, the files decide the runtime (package.json, go.mod, Dockerfile, ...).
  const runtime = chooseRuntime(fn.runtime, files.keys()).runtime;
  if (!file) {
    const stored = isRecord(fn.config) ? fn.config : {};
    return parseOrThrow(functionConfigSchema, { ...stored, runtime }, "function configuration");
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(file).toString("utf8"));
  } catch (error) {
    throw new KumoError("FN_006", `kumo.json is not valid JSON: ${(error as Error).message}`);
  }
  if (
    typeof json === "object" &&
    json !== null &&
    "name" in json &&
    json.name !== undefined &&
    json.name !== fn.name
  ) {
    throw new KumoError(
      "FN_006",
      `kumo.json names function "${String(json.name)}" but this deploys "${fn.name}"`,
    );
  }
  const base = typeof json === "object" && json !== null && !Array.isArray(json) ? json : {};
  return parseOrThrow(functionConfigSchema, { runtime, ...base }, "kumo.json");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
