import { type JwtSettings, KumoError } from "@kumo/core";
import {
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import { type JwksCache, JwksUnavailable } from "./jwks-cache.ts";

export interface JwtVerifierOptions {
  jwks: JwksCache;
  /** A verified token is trusted again without a signature check for at most this long (never past exp). */
  verifiedTtlMs?: number;
  now?: () => number;
}

interface Verified {
  claims: JWTPayload;
  until: number;
}

const MAX_VERIFIED = 10_000;

/**
 * Verifies bearer JWTs against a function's `httpAuth.jwt` settings with jose. Refusals are 401
 * FN_009 with a reason a client developer can act on (expired, wrong audience, unknown key…) and
 * nothing more: never the expected values, the key ids the function trusts, or jose's own text.
 *
 * A token that verified is remembered per settings object for `verifiedTtlMs` (and never past its
 * `exp`), so a client sending the same token on every request pays one signature check, not one
 * per request; the bound keeps a key the issuer withdrew from being honoured for long.
 */
export class JwtVerifier {
  readonly #jwks: JwksCache;
  readonly #verifiedTtlMs: number;
  readonly #now: () => number;
  readonly #inline = new WeakMap<object, JWTVerifyGetKey>();
  readonly #verified = new WeakMap<object, Map<string, Verified>>();

  constructor(options: JwtVerifierOptions) {
    this.#jwks = options.jwks;
    this.#verifiedTtlMs = options.verifiedTtlMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** The verified claims of `token`, or a 401 FN_009 saying why not. */
  async verify(token: string, settings: JwtSettings): Promise<JWTPayload> {
    const now = this.#now();
    let seen = this.#verified.get(settings);
    const hit = seen?.get(token);
    if (hit && hit.until > now) return hit.claims;
    let claims: JWTPayload;
    try {
      claims = await this.#verifyOnce(token, settings);
    } catch (error) {
      if (isCode(error, "ERR_JWKS_NO_MATCHING_KEY") && settings.jwksUrl) {
        // The issuer may have rotated: fetch its set again (rate-limited) and try once more.
        if (await this.#jwks.refreshForUnknownKey(settings.jwksUrl)) {
          try {
            claims = await this.#verifyOnce(token, settings);
          } catch (retryError) {
            throw refusal(retryError);
          }
        } else throw refusal(error);
      } else throw refusal(error);
    }
    if (!seen) {
      seen = new Map();
      this.#verified.set(settings, seen);
    }
    if (seen.size >= MAX_VERIFIED) seen.clear();
    const exp = typeof claims.exp === "number" ? claims.exp * 1000 : Number.POSITIVE_INFINITY;
    seen.set(token, { claims, until: Math.min(now + this.#verifiedTtlMs, exp) });
    return claims;
  }

  async #verifyOnce(token: string, settings: JwtSettings): Promise<JWTPayload> {
    const getKey = await this.#keysOf(settings);
    const { payload } = await jwtVerify(token, getKey, {
      algorithms: settings.algorithms,
      clockTolerance: Math.round(settings.clockSkew / 1000),
      requiredClaims: settings.requiredClaims,
      ...(settings.issuer !== undefined ? { issuer: settings.issuer } : {}),
      ...(settings.audiences !== undefined ? { audience: settings.audiences } : {}),
      currentDate: new Date(this.#now()),
    });
    return payload;
  }

  /** Inline keys first, then the JWKS URL's; a key found in neither is an unknown key. */
  async #keysOf(settings: JwtSettings): Promise<JWTVerifyGetKey> {
    let inline = this.#inline.get(settings);
    if (!inline && settings.publicKeys) {
      inline = createLocalJWKSet({ keys: settings.publicKeys } as JSONWebKeySet);
      this.#inline.set(settings, inline);
    }
    const url = settings.jwksUrl;
    if (!url) {
      if (!inline) throw new joseErrors.JWKSNoMatchingKey();
      return inline;
    }
    const remote = await this.#jwks.keys(url);
    if (!inline) return remote;
    const first = inline;
    return async (header, token) => {
      try {
        return await first(header, token);
      } catch (error) {
        if (!isCode(error, "ERR_JWKS_NO_MATCHING_KEY")) throw error;
        return remote(header, token);
      }
    };
  }
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}

/** Why a token was refused, in words a client developer can act on; nothing an attacker learns from. */
export function refusal(error: unknown): KumoError {
  if (error instanceof KumoError) return error;
  if (error instanceof JwksUnavailable)
    return new KumoError(
      "FN_009",
      "the keys that verify this function's tokens are unavailable right now; try again shortly",
      { status: 503 },
    );
  const code = (error as { code?: unknown } | null)?.code;
  const claim = (error as { claim?: unknown } | null)?.claim;
  const reason = (error as { reason?: unknown } | null)?.reason;
  const say = (message: string) => new KumoError("FN_009", message, { status: 401 });
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return say("the token has expired: get a new one from its issuer");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      if (reason === "missing" && typeof claim === "string")
        return say(`the token lacks the required claim "${claim}"`);
      if (claim === "aud") return say("the token's audience (aud) is not one this function accepts");
      if (claim === "iss") return say("the token's issuer (iss) is not one this function accepts");
      if (claim === "nbf") return say("the token is not valid yet (nbf is in the future)");
      if (claim === "iat") return say("the token's issue time (iat) is invalid");
      return say("the token's claims are invalid");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return say("the token's signing algorithm (alg) is not one this function accepts");
    case "ERR_JWKS_NO_MATCHING_KEY":
      return say("the token was signed by a key this function does not trust (unknown kid)");
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return say("the token names no key id (kid) and several keys could have signed it");
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return say("the token's signature is invalid");
    default:
      return say("the bearer token is not a valid JWT");
  }
}
