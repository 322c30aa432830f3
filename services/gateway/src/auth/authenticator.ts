import { denied, KumoError } from "@kumo/core";
import type { PlatformStore } from "@kumo/db";
import { hashApiKey, keysEqual } from "./api-key.ts";
import type { Principal } from "./principal.ts";

export interface AuthenticatorOptions {
  platform: PlatformStore;
  adminKey: string;
  /** How long a resolved key is trusted without a database read. Revocation through this gateway is immediate. */
  cacheTtlMs: number;
  /** last_used_at is written at most this often per key, so reads stay reads. */
  touchIntervalMs?: number;
  onError?: (error: unknown) => void;
}

interface CacheEntry {
  principal: Principal;
  expires: number;
  /** When the key itself expires (its expiresAt); infinity for keys that never do. */
  keyExpires: number;
}

const MAX_CACHE = 10_000;

/** Resolves `Authorization: Bearer <key>` to a principal, or throws FN_009 (401). */
export class Authenticator {
  readonly #options: AuthenticatorOptions;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #touched = new Map<string, number>();

  constructor(options: AuthenticatorOptions) {
    this.#options = options;
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const key = parseBearer(authorization);
    if (keysEqual(key, this.#options.adminKey)) return { kind: "platform-admin" };
    const hash = hashApiKey(key);
    const now = Date.now();
    const cached = this.#cache.get(hash);
    if (cached && cached.expires > now) {
      if (cached.keyExpires <= now) throw expired();
      this.#touch(cached.principal, now);
      return cached.principal;
    }
    const row = await this.#options.platform.findKeyByHash(hash);
    if (!row) throw new KumoError("FN_009", "invalid API key", { status: 401 });
    if (row.revoked_at) {
      this.#cache.delete(hash);
      throw new KumoError("FN_009", "this API key has been revoked", { status: 401 });
    }
    const keyExpires = row.expires_at ? row.expires_at.getTime() : Number.POSITIVE_INFINITY;
    if (keyExpires <= now) throw expired();
    const principal: Principal = {
      kind: "tenant",
      tenantId: row.tenant_id,
      tenantName: row.tenant_name,
      role: row.role,
      keyId: row.id,
      ...(row.functions ? { functions: row.functions } : {}),
    };
    if (this.#cache.size >= MAX_CACHE) this.#cache.clear();
    this.#cache.set(hash, { principal, expires: now + this.#options.cacheTtlMs, keyExpires });
    this.#touch(principal, now);
    return principal;
  }

  /** Drops cached keys of a revoked key id, so revocation through this gateway takes effect at once. */
  forgetKey(keyId: string): void {
    for (const [hash, entry] of this.#cache) {
      if (entry.principal.kind === "tenant" && entry.principal.keyId === keyId) this.#cache.delete(hash);
    }
  }

  #touch(principal: Principal, now: number): void {
    if (principal.kind !== "tenant") return;
    const last = this.#touched.get(principal.keyId) ?? 0;
    if (now - last < (this.#options.touchIntervalMs ?? 60_000)) return;
    this.#touched.set(principal.keyId, now);
    this.#options.platform
      .touchKey(principal.keyId, new Date(now))
      .catch((error) => this.#options.onError?.(error));
  }
}

const expired = () =>
  new KumoError("FN_009", "this API key has expired: ask a tenant admin for a new one", { status: 401 });

function parseBearer(authorization: string | undefined): string {
  if (!authorization) {
    throw denied("missing API key: send the header 'Authorization: Bearer <key>'", 401);
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match?.[1]) throw denied("malformed Authorization header: expected 'Bearer <key>'", 401);
  return match[1];
}
