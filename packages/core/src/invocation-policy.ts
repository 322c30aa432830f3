import { isIP } from "node:net";
import { z } from "zod";
import { durationMs } from "./duration.ts";

/**
 * Who may call a function over HTTP and how often, as kumo.json declares it: `httpAuth` (public,
 * an invoker key, or a JWT), `rateLimit`, `ipAllowlist` and `cors`. The gateway enforces them on
 * every public invocation (/fn, tenant routes and hosts) before the function runs.
 */

/** Signature algorithms a JWT may use: asymmetric only, so the gateway never holds a signing secret. */
export const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const CLAIM_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;
const claimName = z.string().regex(CLAIM_NAME, "must be a claim name such as 'sub' or 'tenant_id'");

/** A public JWK as a JWKS lists it; private parts are refused so a leaked config cannot sign. */
const publicJwk = z
  .looseObject({
    kty: z.enum(["RSA", "EC", "OKP"], { error: 'must be "RSA", "EC" or "OKP"' }),
    kid: z.string().max(200).optional(),
    alg: z.string().max(20).optional(),
  })
  .refine((jwk) => !("d" in jwk), { message: "must be a public key: remove the private part 'd'" });

const jwtSettings = z
  .strictObject({
    /** Where the issuer publishes its signing keys; fetched through the gateway's outbound address policy. */
    jwksUrl: z
      .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
      .max(2048)
      .optional(),
    /** Keys given inline instead of (or besides) a JWKS URL. */
    publicKeys: z.array(publicJwk).min(1).max(20).optional(),
    /** Accepted `iss` values; unset accepts any issuer the keys vouch for. */
    issuer: z
      .union([z.string().min(1).max(500), z.array(z.string().min(1).max(500)).min(1).max(10)])
      .optional(),
    /** Accepted `aud` values: the token must name at least one. */
    audiences: z.array(z.string().min(1).max(500)).min(1).max(10).optional(),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(["RS256", "ES256", "EdDSA"]),
    /** Tolerance for `exp` and `nbf` against the gateway's clock. */
    clockSkew: durationMs.pipe(z.number().min(0).max(300_000, "must be at most 5m")).default(30_000),
    /** Claims the token must carry (any value). */
    requiredClaims: z.array(claimName).max(20).default([]),
  })
  .refine((s) => s.jwksUrl !== undefined || s.publicKeys !== undefined, {
    message: "give jwksUrl or publicKeys: the keys that sign accepted tokens",
    path: ["jwksUrl"],
  });
export type JwtSettings = z.output<typeof jwtSettings>;

/**
 * Public HTTP access at /fn and tenant routes: "public" (anyone), "key" (an invoker key of the
 * tenant, possibly scoped to this function) or `{ jwt: {...} }` (a bearer JWT the settings accept).
 */
export const httpAuthSchema = z
  .union([z.enum(["public", "key"]), z.strictObject({ jwt: jwtSettings })])
  .default("public");
export type HttpAuth = z.output<typeof httpAuthSchema>;

export const RATE_WINDOWS = { "1s": 1000, "1m": 60_000 } as const;

/**
 * At most `requests` per window for each bucket `by` names: the whole function, the invoker key,
 * the client address, or the value of a verified JWT claim (`claim:sub`).
 */
export const rateLimitSchema = z.strictObject({
  requests: z.number().int().min(1).max(1_000_000),
  per: z.enum(["1s", "1m"]),
  by: z
    .string()
    .regex(
      /^(function|key|ip|claim:[A-Za-z_][A-Za-z0-9_.:-]{0,63})$/,
      'must be "function", "key", "ip" or "claim:<name>"',
    )
    .default("function"),
});
export type RateLimit = z.output<typeof rateLimitSchema>;

/** A CIDR block such as "203.0.113.0/24" or "2001:db8::/32"; a bare address is a /32 or /128. */
export interface Cidr {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: family === 4 ? "ipv4" : "ipv6" };
}

const cidr = z
  .string()
  .max(64)
  .refine((text) => parseCidr(text) !== undefined, {
    message: 'must be an IP address or CIDR block such as "203.0.113.0/24" or "2001:db8::/32"',
  });

/** Client addresses allowed to invoke; anyone else gets 403 FN_009. */
export const ipAllowlistSchema = z.array(cidr).min(1).max(100);

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

/** Cross-origin browser access: the gateway answers preflights and adds the headers to responses. */
export const corsSchema = z
  .strictObject({
    /** Exact origins ("https://app.example.com"), or ["*"] for any (not with credentials). */
    origins: z
      .array(
        z
          .string()
          .refine(
            (o) => o === "*" || ORIGIN.test(o),
            'must be "*" or an origin such as "https://app.example.com"',
          ),
      )
      .min(1)
      .max(50),
    methods: z
      .array(z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]))
      .min(1)
      .default(["GET", "HEAD", "POST"]),
    /** Request headers the browser may send (beyond the CORS-safelisted ones). */
    headers: z.array(z.string().regex(TOKEN, "must be a header name")).max(50).default([]),
    /** Response headers scripts may read. */
    exposeHeaders: z.array(z.string().regex(TOKEN, "must be a header name")).max(50).default([]),
    credentials: z.boolean().default(false),
    /** How long browsers may cache a preflight answer. */
    maxAge: durationMs.pipe(z.number().min(0).max(86_400_000)).default(600_000),
  })
  .refine((c) => !(c.credentials && c.origins.includes("*")), {
    message: 'credentials cannot be allowed for origin "*": list the origins',
    path: ["credentials"],
  });
export type CorsSettings = z.output<typeof corsSchema>;
