import { createHash } from "node:crypto";
import { type FunctionConfig, KumoError, type SecretBox, secretContext } from "@kumo/core";
import type { TenantStore } from "./tenant-store.ts";

export interface VersionEnvironment {
  /** The config's env, then the function's env vars, then its secrets, opened. */
  env: Record<string, string>;
  /** Digest of `env`: gateways and autoscaler nodes compare it to tell "same environment". */
  envDigest: string;
}

/**
 * What a version's instances see as their environment. Gateways (edge) and autoscaler nodes
 * (containers) both build it here, so their digests agree. Without a secret box (a node with no
 * master key) a function with secrets cannot run (FN_008); a secret it names that does not exist is
 * FN_006.
 */
export async function versionEnvironment(
  store: TenantStore,
  fn: { id: string; name: string },
  config: FunctionConfig,
  secretBox: SecretBox | undefined,
): Promise<VersionEnvironment> {
  const env: Record<string, string> = { ...config.env };
  for (const v of await store.env.list(fn.id)) env[v.key] = v.value;
  const names = config.secrets ?? [];
  if (names.length > 0) {
    if (!secretBox)
      throw new KumoError(
        "FN_008",
        "this node has no KUMO_MASTER_KEY and cannot open the function's secrets",
      );
    const sealed = await store.secrets.latestSealed(names);
    for (const s of sealed) env[s.name] = secretBox.open(s.sealed, secretContext(store.tenantId, s.name));
    const missing = names.filter((name) => !sealed.some((s) => s.name === name));
    if (missing.length > 0)
      throw new KumoError(
        "FN_006",
        `function "${fn.name}" uses secrets that do not exist: ${missing.join(", ")}; create them with PUT /v1/secrets/:name`,
      );
  }
  const envDigest = createHash("sha256")
    .update(JSON.stringify(Object.entries(env).sort()))
    .digest("hex")
    .slice(0, 16);
  return { env, envDigest };
}

/**
 * One tenant secret's value, for the platform's own use on the tenant's behalf (a trigger's broker
 * URL or database connection string, an alert's signing key). FN_008 without a master key, FN_006
 * when the secret does not exist.
 */
export async function openTenantSecret(
  store: TenantStore,
  name: string,
  secretBox: SecretBox | undefined,
): Promise<string> {
  if (!secretBox) {
    throw new KumoError("FN_008", `this service has no KUMO_MASTER_KEY and cannot open the secret ${name}`);
  }
  const [sealed] = await store.secrets.latestSealed([name]);
  if (!sealed) {
    throw new KumoError(
      "FN_006",
      `the secret ${name} does not exist; create it with PUT /v1/secrets/${name}`,
    );
  }
  return secretBox.open(sealed.sealed, secretContext(store.tenantId, sealed.name));
}

/** An edge version's bundled script, read from the artifact store (FN_008 when it is missing). */
export async function edgeScript(store: TenantStore, artifact: string, label: string): Promise<string> {
  const content = await store.artifacts.get(artifact);
  if (!content) throw new KumoError("FN_008", `the code of ${label} is missing from the artifact store`);
  return Buffer.from(content).toString("utf8");
}
