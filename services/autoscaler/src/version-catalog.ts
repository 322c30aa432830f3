import type { DeployedVersion, FunctionConfig, Runtime, SecretBox } from "@kumo/core";
import { KumoError } from "@kumo/core";
import { edgeScript, type PlatformStore, versionEnvironment } from "@kumo/db";

/**
 * Everything a node needs to run one version: read from the database, never carried on the bus.
 * The gateway's DeployedVersion (what every CapacityProvider runs), with the artifact also named for
 * what it is on a node and the code tar stem cells are specialized with.
 */
export interface VersionSpec extends DeployedVersion {
  /** The function image (`kumo/fn:<digest>` from the builder, or any tag tests built); an edge bundle's digest for edge versions. */
  image: string;
  /** Digest of the code tar in the artifacts table (builder), used to specialize stem cells. */
  codeArtifact: string | null;
}

export interface VersionKey {
  tenantId: string;
  functionId: string;
  versionId: string;
  version: number;
  envDigest?: string;
}

export interface VersionCatalogOptions {
  platform: PlatformStore;
  secretBox: SecretBox | undefined;
  /** Bound on staleness when a change notification is lost. */
  ttlMs?: number;
}

/**
 * Version descriptions cached per version id, dropped by the gateways' change notifications
 * (`subjects.changes`) and reloaded when a request carries an env digest this node does not have.
 */
export class VersionCatalog {
  readonly #options: VersionCatalogOptions;
  readonly #cache = new Map<string, { at: number; spec: Promise<VersionSpec> }>();

  constructor(options: VersionCatalogOptions) {
    this.#options = options;
  }

  get(key: VersionKey): Promise<VersionSpec> {
    const cached = this.#cache.get(key.versionId);
    const ttl = this.#options.ttlMs ?? 60_000;
    if (cached && Date.now() - cached.at < ttl) {
      if (key.envDigest === undefined) return cached.spec;
      return cached.spec.then((spec) => (spec.envDigest === key.envDigest ? spec : this.#reload(key)));
    }
    return this.#reload(key);
  }

  /** Drops cached versions of a function, or of a whole tenant (a secret changed). */
  evict(tenantId: string, functionId?: string): void {
    for (const [id, entry] of this.#cache) {
      void entry.spec
        .then((spec) => {
          if (spec.tenantId === tenantId && (functionId === undefined || spec.functionId === functionId))
            this.#cache.delete(id);
        })
        .catch(() => this.#cache.delete(id));
    }
  }

  /** An edge version's bundled script (its artifact), read when a cold isolate needs it. */
  code(spec: VersionSpec): Promise<string> {
    const store = this.#options.platform.tenant(spec.tenantId);
    return edgeScript(store, spec.image, `${spec.functionName}@v${spec.version}`);
  }

  /** Versions the function's aliases route to (for draining versions that stopped receiving traffic). */
  async routedVersions(tenantId: string, functionId: string): Promise<Set<number>> {
    const aliases = await this.#options.platform.tenant(tenantId).aliases.list(functionId);
    return new Set(aliases.flatMap((a) => a.routing.filter((r) => r.weight > 0).map((r) => r.version)));
  }

  #reload(key: VersionKey): Promise<VersionSpec> {
    const spec = this.#load(key);
    this.#cache.set(key.versionId, { at: Date.now(), spec });
    spec.catch(() => this.#cache.delete(key.versionId));
    return spec;
  }

  async #load(key: VersionKey): Promise<VersionSpec> {
    const store = this.#options.platform.tenant(key.tenantId);
    const [fn, version] = await Promise.all([
      store.functions.byId(key.functionId),
      store.versions.get(key.functionId, key.version),
    ]);
    if (!fn || !version || version.id !== key.versionId) throw unknownVersion(key);
    const config = version.config as FunctionConfig;
    const { env, envDigest } = await versionEnvironment(store, fn, config, this.#options.secretBox);
    const spec: VersionSpec = {
      tenantId: key.tenantId,
      functionId: fn.id,
      functionName: fn.name,
      versionId: version.id,
      version: version.version,
      runtime: version.runtime as Runtime,
      image: version.artifact,
      artifact: version.artifact,
      loadCode: () => this.code(spec),
      codeArtifact: version.code_artifact ?? null,
      sourceDigest: version.source_digest,
      config,
      env,
      envDigest,
    };
    return spec;
  }
}

/**
 * A gateway of this installation resolved the version from the database this node reads, so not
 * finding it is the platform's fault (a node on another database, or the function deleted since),
 * never "the function does not exist": that answer is the gateway's to give.
 */
export function unknownVersion(key: VersionKey): KumoError {
  return new KumoError(
    "FN_008",
    `this autoscaler node has no version ${key.version} of the function in its database; every Kumo service of one installation must use the same database`,
    { details: { reason: UNKNOWN_VERSION } },
  );
}

export const UNKNOWN_VERSION = "unknown-version";

/** Whether an error is unknownVersion's. */
export function isUnknownVersion(error: { code: string; details?: unknown }): boolean {
  return (error.details as { reason?: unknown } | undefined)?.reason === UNKNOWN_VERSION;
}
