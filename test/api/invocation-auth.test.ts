import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { expectError } from "./api-helpers.ts";

/** An edge function that answers what reached it: the claims header and whether a token did. */
const ECHO = `export default { fetch(req: Request) {
  return Response.json({ claims: req.headers.get("kumo-auth-claims"), authorization: req.headers.get("authorization") });
} }`;

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

interface Signer {
  kid: string;
  alg: string;
  pair: KeyPair;
  jwk: JWK;
}

async function signer(alg: "RS256" | "ES256" | "EdDSA", kid: string): Promise<Signer> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg };
  return { kid, alg, pair, jwk };
}

const ISSUER = "https://issuer.test";
const AUDIENCE = "kumo-orders";

function token(
  s: Signer,
  claims: Record<string, unknown> = {},
  options: { iss?: string; aud?: string; exp?: number | string; nbf?: number } = {},
): Promise<string> {
  const jwt = new SignJWT({ sub: "user-42", role: "buyer", ...claims })
    .setProtectedHeader({ alg: s.alg, kid: s.kid })
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.exp ?? "5m");
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
  return jwt.sign(s.pair.privateKey);
}

let t: TestGateway;
let tenant: { name: string; id: string; key: string };
let jwks: Server;
let jwksUrl = "";
let served: JWK[] = [];
let fetches = 0;
let rsa: Signer;
let rotated: Signer;
let ec: Signer;
let ed: Signer;
let stranger: Signer;

async function deploy(name: string, config: Record<string, unknown>): Promise<void> {
  const created = await t.call("POST", "/v1/functions", { key: tenant.key, body: { name, runtime: "edge" } });
  expect(created.status, created.body).toBe(201);
  const dep = await t.call("POST", `/v1/functions/${name}/deployments`, {
    key: tenant.key,
    body: { files: { "index.ts": ECHO }, config },
  });
  expect(dep.status, dep.body).toBe(202);
  expect(dep.json.status, dep.body).toBe("succeeded");
}

const call = (name: string, jwt?: string, headers: Record<string, string> = {}) =>
  t.call("GET", `/fn/${tenant.name}/${name}/x`, {
    headers: { ...headers, ...(jwt ? { authorization: `Bearer ${jwt}` } : {}) },
  });

beforeAll(async () => {
  [rsa, rotated, ec, ed, stranger] = await Promise.all([
    signer("RS256", "rsa-1"),
    signer("RS256", "rsa-2"),
    signer("ES256", "ec-1"),
    signer("EdDSA", "ed-1"),
    signer("RS256", "rsa-1"), // same kid as the real key, other key material
  ]);
  served = [rsa.jwk];
  jwks = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: served }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  t = await startTestGateway({
    edge: true,
    // The JWKS server is on loopback, which the SSRF policy refuses unless the operator allows it.
    env: { KUMO_JWKS_ALLOW_PRIVATE: "true", KUMO_JWKS_MIN_REFRESH: "400ms", KUMO_JWKS_CACHE_TTL: "1s" },
  });
  tenant = await t.tenant();
  await deploy("orders", {
    httpAuth: {
      jwt: {
        jwksUrl,
        issuer: ISSUER,
        audiences: [AUDIENCE],
        algorithms: ["RS256"],
        requiredClaims: ["role"],
      },
    },
  });
  await deploy("inline", {
    httpAuth: { jwt: { publicKeys: [ec.jwk, ed.jwk], algorithms: ["ES256", "EdDSA"], clockSkew: "0s" } },
  });
}, 120_000);

afterAll(async () => {
  await t?.close();
  await new Promise((resolve) => jwks?.close(resolve));
});

describe("invocation auth - JWT", () => {
  it("jwt - a valid RS256 token from the JWKS is accepted; the claims reach the function, the token does not", async () => {
    const res = await call("orders", await token(rsa, { email: "zoë@example.com" }));
    expect(res.status, res.body).toBe(200);
    expect(res.json.authorization).toBeNull();
    const claims = JSON.parse(res.json.claims);
    expect(claims).toMatchObject({ sub: "user-42", role: "buyer", iss: ISSUER, aud: AUDIENCE });
    expect(claims.email).toBe("zoë@example.com");
  });

  it("jwt - ES256 and EdDSA tokens against inline public keys are accepted", async () => {
    for (const s of [ec, ed]) {
      const res = await call("inline", await token(s));
      expect(res.status, `${s.alg}: ${res.body}`).toBe(200);
      expect(JSON.parse(res.json.claims).sub).toBe("user-42");
    }
  });

  it("jwt - a client cannot forge the claims header", async () => {
    const res = await call("orders", await token(rsa), { "kumo-auth-claims": '{"sub":"admin"}' });
    expect(JSON.parse(res.json.claims).sub).toBe("user-42");
  });

  const refusals: [string, () => Promise<string | undefined>, RegExp, string?][] = [
    ["no token", async () => undefined, /missing token/],
    ["an expired token", () => token(rsa, {}, { exp: Math.floor(Date.now() / 1000) - 120 }), /expired/],
    ["a token for another audience", () => token(rsa, {}, { aud: "someone-else" }), /audience/],
    ["a token of another issuer", () => token(rsa, {}, { iss: "https://evil.test" }), /issuer/],
    ["a token lacking a required claim", () => token(rsa, { role: undefined }), /required claim "role"/],
    ["a token signed by an unknown key", () => token(rotated), /unknown kid/],
    ["a token whose signature does not match its key", () => token(stranger), /signature is invalid/],
    ["a token of an algorithm the function does not accept", () => token(ec), /algorithm/],
    [
      "a token that is not valid yet",
      () => token(rsa, {}, { nbf: Math.floor(Date.now() / 1000) + 3600 }),
      /not valid yet/,
    ],
    ["something that is not a JWT", async () => "not.a.jwt", /not a valid JWT/],
  ];
  for (const [what, make, reason] of refusals) {
    it(`jwt - ${what} is refused with 401 FN_009 saying why, and nothing more`, async () => {
      const res = await call("orders", await make());
      const error = expectError(res, 401, "FN_009");
      expect(error.message).toMatch(reason);
      expect(res.headers["www-authenticate"]).toMatch(/^Bearer realm="kumo"/);
      // Never the expected values or the trusted key ids.
      for (const secret of [AUDIENCE, ISSUER, "rsa-1", jwksUrl]) expect(res.body).not.toContain(secret);
    });
  }

  it("jwt - the claims of a function's inline clock skew of 0 refuse a token expired a second ago", async () => {
    const res = await call("inline", await token(ec, {}, { exp: Math.floor(Date.now() / 1000) - 1 }));
    expect(expectError(res, 401, "FN_009").message).toMatch(/expired/);
  });

  it("jwt - rotation: a new kid makes the gateway fetch the JWKS again, at most once per interval", async () => {
    await new Promise((r) => setTimeout(r, 450));
    served = [rsa.jwk, rotated.jwk];
    const before = fetches;
    const res = await call("orders", await token(rotated));
    expect(res.status, res.body).toBe(200);
    expect(fetches).toBe(before + 1);
    // A burst of tokens naming keys nobody has: refused, and no more than one fetch for all of them.
    const liars = Array.from({ length: 10 }, (_, i) => ({ ...stranger, kid: `made-up-${i}` }));
    const answers = await Promise.all(liars.map(async (s) => call("orders", await token(s))));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(401));
    expect(fetches - before).toBeLessThanOrEqual(2);
    // The issuer drops the old key: it verifies until the set's TTL passes and a background
    // refresh replaces the set; then its tokens are from an unknown key.
    served = [rotated.jwk];
    await new Promise((r) => setTimeout(r, 1100));
    const stale = await call("orders", await token(rsa, { jti: "during-refresh" }));
    expect(stale.status, stale.body).toBe(200);
    await new Promise((r) => setTimeout(r, 150));
    const old = await call("orders", await token(rsa, { jti: "after-rotation" }));
    expect(expectError(old, 401, "FN_009").message).toMatch(/unknown kid/);
  });

  it("jwt - kumo.json refuses a jwt form with no keys, private keys or unknown algorithms", async () => {
    const bad: [unknown, string][] = [
      [{ jwt: { issuer: ISSUER } }, "httpAuth.jwt.jwksUrl"],
      [{ jwt: { publicKeys: [{ ...rsa.jwk, d: "private" }] } }, "httpAuth.jwt.publicKeys.0"],
      [{ jwt: { jwksUrl, algorithms: ["HS256"] } }, "httpAuth.jwt.algorithms.0"],
      [{ jwt: { jwksUrl: "ftp://keys.example.com/jwks" } }, "httpAuth.jwt.jwksUrl"],
    ];
    for (const [httpAuth, field] of bad) {
      const res = await t.call("PATCH", "/v1/functions/orders", {
        key: tenant.key,
        body: { config: { httpAuth } },
      });
      const error = expectError(res, 400, "FN_006");
      expect(error.message, JSON.stringify(httpAuth)).toContain(`${field}:`);
    }
  });
});
