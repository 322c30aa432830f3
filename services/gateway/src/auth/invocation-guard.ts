import type { BlockList } from "node:net";
import { headers as H } from "@kumo/bus";
import {
  type FunctionConfig,
  type JwtSettings,
  KumoError,
  notFound,
  RATE_WINDOWS,
  type RateLimit,
} from "@kumo/core";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { JWTPayload } from "jose";
import { traceStep } from "../http/request-tracing.ts";
import type { ResolvedFunction } from "../invoke/function-resolver.ts";
import { cidrList, clientAddress, listHas } from "../limits/client-address.ts";
import { answerPreflight, applyCors } from "../limits/cors.ts";
import type { RateLimiter } from "../limits/rate-limiter.ts";
import type { Authenticator } from "./authenticator.ts";
import type { JwtVerifier } from "./jwt-verifier.ts";
import { type Principal, roleAllows } from "./principal.ts";

export interface InvocationGuardOptions {
  auth: Authenticator;
  jwt: JwtVerifier;
  limiter: RateLimiter;
  /** Proxies whose X-Forwarded-For is believed; none: the socket's peer is the client. */
  trustedProxies: BlockList | undefined;
  now?: () => number;
}

/** What an admitted invocation carries on: whether to drop Authorization, and headers for the function. */
export interface Admitted {
  stripAuthorization: boolean;
  headers: Record<string, string> | undefined;
}

/**
 * Entry points: "http" for /fn and tenant routes (kumo.json's httpAuth applies), "api" for
 * `POST /v1/functions/:name/invoke` (the caller already showed an invoker key).
 */
export type InvocationEntry = "http" | "api";

/**
 * Everything that decides whether one HTTP invocation may run, in the order a client would want
 * to hear about it: CORS preflights (answered here), the IP allowlist, authentication (invoker
 * key, scoped key or JWT), then the rate limit. A function that configures none of these pays a few
 * property reads.
 */
export class InvocationGuard {
  readonly #options: InvocationGuardOptions;
  readonly #now: () => number;
  readonly #allowlists = new WeakMap<readonly string[], BlockList>();

  constructor(options: InvocationGuardOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Resolves to what the invocation carries on, or null when this answered the request (a preflight). */
  async admit(
    request: FastifyRequest,
    reply: FastifyReply,
    resolved: ResolvedFunction,
    entry: InvocationEntry,
  ): Promise<Admitted | null> {
    const config = resolved.version.config as FunctionConfig;
    if (entry === "http" && config.cors) {
      if (answerPreflight(config.cors, request, reply)) return null;
      applyCors(config.cors, request, reply);
    }
    let address: string | undefined;
    if (config.ipAllowlist) {
      address = this.clientAddress(request);
      if (!listHas(this.#allowlist(config.ipAllowlist), address))
        throw new KumoError("FN_009", "this function does not accept requests from your address", {
          status: 403,
        });
    }
    const auth = entry === "api" ? "key" : config.httpAuth;
    let stripAuthorization = false;
    let claims: JWTPayload | undefined;
    let headers: Record<string, string> | undefined;
    if (auth === "key") {
      const principal =
        entry === "api"
          ? request.principal
          : await traceStep(request, "auth", () =>
              this.#options.auth.authenticate(request.headers.authorization),
            );
      request.principal = principal;
      this.#requireInvoker(principal, resolved);
      stripAuthorization = true;
    } else if (auth !== "public") {
      try {
        const token = bearerToken(request);
        claims = await traceStep(request, "auth", () => this.#options.jwt.verify(token, auth.jwt));
      } catch (error) {
        if (error instanceof KumoError && error.status === 401)
          reply.raw.setHeader("www-authenticate", 'Bearer realm="kumo", error="invalid_token"');
        throw error;
      }
      stripAuthorization = true;
      headers = { [H.authClaims]: asciiJson(claims) };
    }
    if (config.rateLimit) this.#limit(config.rateLimit, request, reply, resolved, claims, address);
    return { stripAuthorization, headers };
  }

  /** Verifies a JWT with a function's settings (step runs' kumo-auth-token); 401 FN_009 saying why not. */
  verifyToken(token: string, settings: JwtSettings): Promise<JWTPayload> {
    return this.#options.jwt.verify(token, settings);
  }

  #requireInvoker(principal: Principal | undefined, resolved: ResolvedFunction): void {
    // A key of another tenant learns nothing: the function is "not found", as for a wrong name.
    if (principal?.kind !== "tenant" || principal.tenantId !== resolved.tenantId) throw notFound("function");
    if (!roleAllows(principal.role, "invoke"))
      throw new KumoError("FN_009", `the ${principal.role} role cannot invoke functions`);
    if (principal.functions && !principal.functions.includes(resolved.fn.name))
      throw new KumoError(
        "FN_009",
        `this key may not invoke "${resolved.fn.name}": it is limited to other functions`,
      );
  }

  #limit(
    rule: RateLimit,
    request: FastifyRequest,
    reply: FastifyReply,
    resolved: ResolvedFunction,
    claims: JWTPayload | undefined,
    address: string | undefined,
  ): void {
    const windowMs = RATE_WINDOWS[rule.per];
    const key = `${resolved.fn.id}|${rule.by}|${rule.requests}/${rule.per}|${this.#bucketOf(rule.by, request, claims, address)}`;
    const decision = this.#options.limiter.check(key, rule.requests, windowMs, this.#now());
    const reset = Math.max(1, Math.ceil(decision.resetMs / 1000));
    const raw = reply.raw;
    raw.setHeader("ratelimit-policy", `${rule.requests};w=${windowMs / 1000}`);
    raw.setHeader("ratelimit-limit", String(decision.limit));
    raw.setHeader("ratelimit-remaining", String(decision.remaining));
    raw.setHeader("ratelimit-reset", String(reset));
    if (!decision.allowed) {
      raw.setHeader("retry-after", String(reset));
      throw new KumoError(
        "FN_007",
        `rate limit of ${rule.requests} requests per ${rule.per} reached; retry after ${reset} s`,
      );
    }
  }

  /** The bucket a request counts against. Without a key (or the claim) callers are told apart by address. */
  #bucketOf(
    by: string,
    request: FastifyRequest,
    claims: JWTPayload | undefined,
    address: string | undefined,
  ): string {
    if (by === "function") return "";
    const principal = request.principal;
    if (by === "key" && principal?.kind === "tenant") return `k:${principal.keyId}`;
    if (by.startsWith("claim:") && claims) {
      const value = claims[by.slice(6)];
      if (value !== undefined)
        return `c:${typeof value === "string" ? value : JSON.stringify(value)}`.slice(0, 300);
    }
    return `a:${address ?? this.clientAddress(request)}`;
  }

  /** The client's address: the socket's peer, or X-Forwarded-For's when the peer is a trusted proxy. */
  clientAddress(request: FastifyRequest): string {
    return clientAddress(
      request.raw.socket?.remoteAddress,
      request.headers["x-forwarded-for"],
      this.#options.trustedProxies,
    );
  }

  #allowlist(cidrs: readonly string[]): BlockList {
    let list = this.#allowlists.get(cidrs);
    if (!list) {
      list = cidrList(cidrs);
      this.#allowlists.set(cidrs, list);
    }
    return list;
  }
}

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1]) {
    throw new KumoError(
      "FN_009",
      header
        ? "malformed Authorization header: expected 'Bearer <JWT>'"
        : "missing token: send 'Authorization: Bearer <JWT>' with a token from this function's issuer",
      { status: 401 },
    );
  }
  return match[1];
}

/** JSON with every non-ASCII character escaped, so it is a valid header value whatever the claims hold. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
