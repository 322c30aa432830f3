import type { FunctionConfig } from "@kumo/core";
import type { FunctionRow, TenantStore, VersionRow } from "@kumo/db";
import { applyConfigTriggers } from "./config-triggers.ts";
import { versionChanges } from "./version-changes.ts";

export interface ReleaseInput {
  store: TenantStore;
  fn: FunctionRow;
  config: FunctionConfig;
  deploymentId: string;
  actor: string;
  sourceDigest: string;
  /** Edge: the bundle digest; containers: the image ref. */
  artifact: string;
  /** Containers: digest of the stored code tree. */
  codeArtifact?: string | null;
}

/**
 * The end of every successful deploy: a new immutable version, "live" pointed at it (which
 * supersedes a gradual rollout on live), kumo.json's triggers applied, and the audit record.
 */
export async function releaseVersion(input: ReleaseInput): Promise<VersionRow> {
  const { store, fn, config, actor } = input;
  const previous = await store.versions.latest(fn.id);
  const version = await store.versions.create({
    functionId: fn.id,
    runtime: config.runtime,
    sourceDigest: input.sourceDigest,
    artifact: input.artifact,
    codeArtifact: input.codeArtifact ?? null,
    config,
    deploymentId: input.deploymentId,
    createdBy: actor,
    changes: versionChanges(previous, { sourceDigest: input.sourceDigest, runtime: config.runtime, config }),
  });
  for (const cancelled of await store.rollouts.cancelRunning(
    fn.id,
    "live",
    `superseded by the deploy of version ${version.version}`,
  ))
    await store.audit.record(actor, "rollout.cancel", `function/${fn.name}@live`, {
      rollout: cancelled.id,
      reason: cancelled.reason,
    });
  await store.aliases.put(fn.id, "live", [{ version: version.version, weight: 100 }], actor);
  await applyConfigTriggers(store, fn, config, actor);
  await store.audit.record(actor, "deploy", `function/${fn.name}`, {
    version: version.version,
    digest: input.sourceDigest,
  });
  return version;
}
