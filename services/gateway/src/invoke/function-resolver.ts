import type { DeployedVersion, FunctionConfig, Runtime, SecretBox } from "@kumo/core";
import { notFound, pickVersion, runtimeFamily } from "@kumo/core";
import {
  type AliasRow,
  edgeScript,
  type FunctionRow,
  type PlatformStore,
  type VersionRow,
  versionEnvironment,
} from "@kumo/db";

export interface ResolvedFunction {
  tenantId: string;
  tenantName: string;
  fn: FunctionRow;
  version: VersionRow;
  /** The alias that chose the version, or null when addressed as fn@vN. */
  alias: string | null;
}

interface FunctionSnapshot {
  fn: FunctionRow;
  aliases: Map<string, AliasRow>;
  versions: Map<number, VersionRow>;
  loadedAt: number;
}

export interface FunctionResolverOptions {
  platform: PlatformStore;
  secretBox: SecretBox;
  /** Bound on staleness when a change notification is lost; changes through any gateway evict at once. */
  ttlMs?: number;
}

const VERSION_SELECTOR = /^v(\d{1,9})$/;

/**
 * The hot path's lookups: tenant name -> id, function -> aliases -> weighted version -> a ready
 * DeployedVersion with env and decrypted secrets. All cached in memory and evicted by change events.
 */
export class FunctionResolver {
  readonly #options: FunctionResolverOptions;
  readonly #tenants = new Map<string, { id: string; at: number }>();
  readonly #functions = new Map<string, FunctionSnapshot>();
  readonly #targets = new Map<
    string,
    { tenantId: string; functionId: string; target: Promise<DeployedVersion> }
  >();
  readonly #ttlMs: number;

  constructor(options: FunctionResolverOptions) {
    this.#options = options;
    this.#ttlMs = options.ttlMs ?? 30_000;
  }

  async tenantId(tenantName: string): Promise<string> {
    const cached = this.#tenants.get(tenantName);
    if (cached && Date.now() - cached.at < this.#ttlMs) return cached.id;
    const tenant = await this.#options.platform.tenantByName(tenantName);
    if (!tenant) throw notFound(`function (tenant "${tenantName}")`);
    this.#tenants.set(tenantName, { id: tenant.id, at: Date.now() });
    return tenant.id;
  }

  /**
   * Resolves "name", "name@alias" or "name@v3" to one version. An alias that points nowhere (no
   * deploy yet) is FN_001 with a message saying to deploy.
   */
  async resolve(
    tenantId: string,
    tenantName: string,
    address: string,
    stickyKey?: string,
  ): Promise<ResolvedFunction> {
    const at = address.indexOf("@");
    const name = at < 0 ? address : address.slice(0, at);
    const selector = at < 0 ? "live" : address.slice(at + 1);
    const snapshot = await this.#snapshot(tenantId, name);
    const versionMatch = VERSION_SELECTOR.exec(selector);
    if (versionMatch) {
      const number = Number(versionMatch[1]);
      const version = snapshot.versions.get(number) ?? (await this.#loadVersion(tenantId, snapshot, number));
      if (!version) throw notFound(`version ${number} of function "${name}"`);
      return { tenantId, tenantName, fn: snapshot.fn, version, alias: null };
    }
    const alias = snapshot.aliases.get(selector);
    if (!alias) {
      throw selector === "live"
        ? notFound(`function "${name}" has no deployed version yet; deploy it first`)
        : notFound(`alias "${selector}" of function "${name}"`);
    }
    const chosen = pickVersion(alias.routing, stickyKey);
    const version =
      chosen === undefined
        ? undefined
        : (snapshot.versions.get(chosen) ?? (await this.#loadVersion(tenantId, snapshot, chosen)));
    if (!version) throw notFound(`alias "${selector}" of function "${name}" points to no existing version`);
    return { tenantId, tenantName, fn: snapshot.fn, version, alias: selector };
  }

  /** The provider-facing description of a version, with env merged and secrets opened. */
  target(resolved: ResolvedFunction): Promise<DeployedVersion> {
    const key = resolved.version.id;
    const cached = this.#targets.get(key);
    if (cached) return cached.target;
    const target = this.#buildTarget(resolved);
    this.#targets.set(key, { tenantId: resolved.tenantId, functionId: resolved.fn.id, target });
    target.catch(() => this.#targets.delete(key));
    return target;
  }

  /** Drops what is cached for a function (or a whole tenant, e.g. after a secret changes). */
  evict(tenantId: string, functionId?: string): void {
    const matches = (t: string, f: string) =>
      t === tenantId && (functionId === undefined || f === functionId);
    for (const [key, snap] of this.#functions) {
      if (matches(snap.fn.tenant_id, snap.fn.id)) this.#functions.delete(key);
    }
    for (const [key, entry] of this.#targets) {
      if (matches(entry.tenantId, entry.functionId)) this.#targets.delete(key);
    }
  }

  async #snapshot(tenantId: string, name: string): Promise<FunctionSnapshot> {
    const key = `${tenantId}/${name}`;
    const cached = this.#functions.get(key);
    if (cached && Date.now() - cached.loadedAt < this.#ttlMs) return cached;
    const store = this.#options.platform.tenant(tenantId);
    const fn = await store.functions.byName(name);
    if (!fn) throw notFound(`function "${name}"`);
    const aliases = new Map((await store.aliases.list(fn.id)).map((a) => [a.name, a]));
    const versions = new Map<number, VersionRow>();
    const wanted = new Set<number>();
    for (const alias of aliases.values()) for (const r of alias.routing) wanted.add(r.version);
    for (const number of wanted) {
      const version = await store.versions.get(fn.id, number);
      if (version) versions.set(number, version);
    }
    const snapshot = { fn, aliases, versions, loadedAt: Date.now() };
    this.#functions.set(key, snapshot);
    return snapshot;
  }

  async #loadVersion(
    tenantId: string,
    snapshot: FunctionSnapshot,
    number: number,
  ): Promise<VersionRow | undefined> {
    const version = await this.#options.platform.tenant(tenantId).versions.get(snapshot.fn.id, number);
    if (version) snapshot.versions.set(number, version);
    return version;
  }

  async #buildTarget(resolved: ResolvedFunction): Promise<DeployedVersion> {
    const { fn, version, tenantId } = resolved;
    const store = this.#options.platform.tenant(tenantId);
    const config = version.config as FunctionConfig;
    const { env, envDigest } = await versionEnvironment(store, fn, config, this.#options.secretBox);
    return {
      tenantId,
      functionId: fn.id,
      functionName: fn.name,
      versionId: version.id,
      version: version.version,
      runtime: runtimeFamily(version.runtime) as Runtime,
      config,
      sourceDigest: version.source_digest,
      artifact: version.artifact,
      env,
      envDigest,
      loadCode: () => edgeScript(store, version.artifact, `${fn.name}@v${version.version}`),
    };
  }
}
