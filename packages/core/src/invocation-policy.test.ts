import { describe, expect, it } from "vitest";
import { functionConfigSchema } from "./function-config.ts";
import { parseCidr } from "./invocation-policy.ts";
import { problemsOf } from "./validation.ts";

const parse = (config: Record<string, unknown>) =>
  functionConfigSchema.safeParse({ runtime: "edge", ...config });
/** The fields parseOrThrow would name (unions resolved to the alternative the input was meant for). */
const fields = (config: Record<string, unknown>) => {
  const error = parse(config).error;
  return error ? problemsOf(error).map((p) => p.field) : [];
};

describe("invocation policy", () => {
  it("invocation policy - jwt settings fill defaults and normalize the clock skew", () => {
    const result = parse({ httpAuth: { jwt: { jwksUrl: "https://auth.example.com/jwks.json" } } });
    expect(result.success).toBe(true);
    expect(result.data?.httpAuth).toEqual({
      jwt: {
        jwksUrl: "https://auth.example.com/jwks.json",
        algorithms: ["RS256", "ES256", "EdDSA"],
        clockSkew: 30_000,
        requiredClaims: [],
      },
    });
  });

  it("invocation policy - refuses each bad field by name", () => {
    expect(fields({ httpAuth: { jwt: {} } })).toEqual(["httpAuth.jwt.jwksUrl"]);
    expect(fields({ httpAuth: { jwt: { jwksUrl: "https://a.test/k", algorithms: ["HS256"] } } })).toEqual([
      "httpAuth.jwt.algorithms.0",
    ]);
    expect(fields({ httpAuth: { jwt: { jwksUrl: "https://a.test/k", clockSkew: "1h" } } })).toEqual([
      "httpAuth.jwt.clockSkew",
    ]);
    expect(fields({ rateLimit: { requests: 10, per: "1h" } })).toEqual(["rateLimit.per"]);
    expect(fields({ rateLimit: { requests: 10, per: "1s", by: "header:x" } })).toEqual(["rateLimit.by"]);
    expect(fields({ ipAllowlist: ["10.0.0.0/33"] })).toEqual(["ipAllowlist.0"]);
    expect(fields({ cors: { origins: ["app.example.com"] } })).toEqual(["cors.origins.0"]);
    expect(fields({ cors: { origins: ["*"], credentials: true } })).toEqual(["cors.credentials"]);
  });

  it("invocation policy - rate limits default to the whole function; claim buckets are accepted", () => {
    expect(parse({ rateLimit: { requests: 5, per: "1m" } }).data?.rateLimit).toEqual({
      requests: 5,
      per: "1m",
      by: "function",
    });
    expect(parse({ rateLimit: { requests: 5, per: "1s", by: "claim:sub" } }).success).toBe(true);
  });

  it("invocation policy - CIDRs parse in both families; a bare address is a host route", () => {
    expect(parseCidr("203.0.113.0/24")).toEqual({ address: "203.0.113.0", prefix: 24, family: "ipv4" });
    expect(parseCidr("2001:db8::1")).toEqual({ address: "2001:db8::1", prefix: 128, family: "ipv6" });
    expect(parseCidr("10.0.0.0/")).toBeUndefined();
    expect(parseCidr("example.com/8")).toBeUndefined();
  });
});
