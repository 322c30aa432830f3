import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import type { JwksFetcher } from "./jwks-fetcher.ts";

export interface JwksCacheOptions {
  fetcher: Pick<JwksFetcher, "fetch">;
  /** A key set older than this is fetched again in the background; the old one serves meanwhile. */
  ttlMs: number;
  /** At most one fetch per URL this often, however many tokens name unknown keys. */
  minRefreshMs: number;
  /** Key sets kept (one per distinct jwksUrl); past it the oldest is dropped. */
  maxEntries?: number;
  onError?: (url: string, error: unknown) => void;
  now?: () => number;
}

interface Entry {
  keys: JWTVerifyGetKey | undefined;
  fetchedAt: number;
  lastAttempt: number;
  inflight: Promise<void> | undefined;
}

/** The JWKS could not be fetched and no earlier copy is at hand. */
export class JwksUnavailable extends Error {}

/**
 * Issuers' key sets by URL, with rotation: a set is fetched on first use, refreshed in the
 * background once older than the TTL, and refreshed at once when a token names a key id it lacks
 * (an issuer that rotated) — but at most once per `minRefreshMs` per URL, so tokens with made-up
 * key ids cannot make the gateway hammer the issuer. A failed refresh keeps the previous set.
 */
export class JwksCache {
  readonly #options: JwksCacheOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(options: JwksCacheOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The key resolver for `url`, fetching the set if this gateway has none yet. */
  async keys(url: string): Promise<JWTVerifyGetKey> {
    let entry = this.#entries.get(url);
    if (!entry) {
      entry = { keys: undefined, fetchedAt: 0, lastAttempt: 0, inflight: undefined };
      if (this.#entries.size >= (this.#options.maxEntries ?? 1000)) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      this.#entries.set(url, entry);
    }
    const now = this.#now();
    if (entry.keys === undefined) {
      // A failing issuer is asked again at most once per minRefreshMs, not once per request.
      if (entry.lastAttempt === 0 || entry.inflight || now - entry.lastAttempt >= this.#options.minRefreshMs)
        await this.#fetch(url, entry);
    } else if (
      now - entry.fetchedAt > this.#options.ttlMs &&
      now - entry.lastAttempt >= this.#options.minRefreshMs
    ) {
      void this.#fetch(url, entry);
    }
    if (entry.keys === undefined) throw new JwksUnavailable(`the key set at ${url} could not be fetched`);
    return entry.keys;
  }

  /**
   * A token named a key the set lacks: fetch again unless this URL was fetched within
   * `minRefreshMs`. True when a fresh set is now in place (the caller retries once).
   */
  async refreshForUnknownKey(url: string): Promise<boolean> {
    const entry = this.#entries.get(url);
    if (!entry) return false;
    if (entry.inflight) {
      await entry.inflight;
      return true;
    }
    if (this.#now() - entry.lastAttempt < this.#options.minRefreshMs) return false;
    const before = entry.fetchedAt;
    await this.#fetch(url, entry);
    return entry.fetchedAt !== before;
  }

  /** One fetch per URL at a time; callers arriving meanwhile wait for the same one. */
  async #fetch(url: string, entry: Entry): Promise<void> {
    if (!entry.inflight) {
      entry.lastAttempt = this.#now();
      entry.inflight = this.#options.fetcher
        .fetch(url)
        .then((set: JSONWebKeySet) => {
          entry.keys = createLocalJWKSet(set);
          entry.fetchedAt = this.#now();
        })
        .catch((error: unknown) => this.#options.onError?.(url, error))
        .finally(() => {
          entry.inflight = undefined;
        });
    }
    await entry.inflight;
  }
}
