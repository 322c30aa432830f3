import {
  type FunctionConfig,
  functionConfigSchema,
  isEdgeRuntime,
  KumoError,
  parseOrThrow,
  toKumoError,
} from "@kumo/core";
import type { DeploymentRow, FunctionRow, TenantStore } from "@kumo/db";
import { versionChanges } from "./version-changes.ts";
import { pruneVersions } from "./prune-versions.ts";
import { type SourceFiles, sourceDigest } from "@kumo/source";

/** Bundles edge code; injected so the gateway does not care how. */
export type EdgeBundler = (
  files: Record<string, string>,
  options: { entry?: string },
) => Promise<{ code: string; digest: string; warnings: string[] }>;

export interface DeployerOptions {
  bundleEdge: EdgeBundler;
  /** Called after a version goes live so caches drop the old routing. */
  onChange: (tenantId: string, functionId: string) => void;
  /** Versions kept per function; older ones nothing points at are pruned after each deploy. */
  versionRetention?: number;
  /** Reports a failed pruning (the deploy itself succeeded). */
  onError?: (error: unknown) => void;
}

export interface DeployInput {
  store: TenantStore;
  fn: FunctionRow;
  files: SourceFiles;
  sourceKind: "upload" | "files";
  actor: string;
}

export interface DeployOutcome {
  deployment: DeploymentRow;
  fn: FunctionRow;
}

/**
 * Turns source into an immutable version and points "live" at it. Edge functions are bundled here
 * (milliseconds); container runtimes go to the builder service, which is not part of this release.
 */
export class Deployer {
  readonly #options: DeployerOptions;

  constructor(options: DeployerOptions) {
    this.#options = options;
  }

  async deploy(input: DeployInput): Promise<DeployOutcome> {
    const { store, actor, files } = input;
    const config = configFromSource(input.fn, files);
    if (!isEdgeRuntime(config.runtime)) {
      throw new KumoError(
        "FN_006",
        `runtime "${config.runtime}" is built into a container image by the builder service, which this release does not include yet; deploy runtime "edge" functions for now`,
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
    const digest = sourceDigest(files);
    const log: string[] = [`source ${digest} (${files.size} files)`];
    try {
      await store.deployments.setStatus(deployment.id, "building", { sourceDigest: digest });
      const sources: Record<string, string> = {};
      for (const [path, content] of files) sources[path] = Buffer.from(content).toString("utf8");
      const started = performance.now();
      const bundle = await this.#options.bundleEdge(sources, config.handler ? { entry: config.handler } : {});
      log.push(`bundled ${bundle.code.length} bytes in ${(performance.now() - started).toFixed(1)} ms`);
      for (const warning of bundle.warnings) log.push(`warning: ${warning}`);
      await store.artifacts.put(bundle.digest, "edge-bundle", Buffer.from(bundle.code));
      const previous = await store.versions.latest(fn.id);
      const version = await store.versions.create({
        functionId: fn.id,
        runtime: config.runtime,
        sourceDigest: digest,
        artifact: bundle.digest,
        config,
        deploymentId: deployment.id,
        createdBy: actor,
        changes: versionChanges(previous, { sourceDigest: digest, runtime: config.runtime, config }),
      });
      // A deploy moves live outright, which supersedes a gradual rollout on it.
      for (const cancelled of await store.rollouts.cancelRunning(fn.id, "live", `superseded by the deploy of version ${version.version}`))
        await store.audit.record(actor, "rollout.cancel", `function/${fn.name}@live`, { rollout: cancelled.id, reason: cancelled.reason });
      await store.aliases.put(fn.id, "live", [{ version: version.version, weight: 100 }], actor);
      await store.audit.record(actor, "deploy", `function/${fn.name}`, { version: version.version, digest });
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
      return { deployment: done ?? deployment, fn };
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
}

/** kumo.json in the source, when present, is the function's configuration from now on. */
function configFromSource(fn: FunctionRow, files: SourceFiles): FunctionConfig {
  const file = files.get("kumo.json");
  if (!file) return parseOrThrow(functionConfigSchema, fn.config, "function configuration");
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
  return parseOrThrow(functionConfigSchema, { runtime: fn.runtime, ...base }, "kumo.json");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
