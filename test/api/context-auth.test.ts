import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { expectError } from "./api-helpers.ts";

/** A Lambda-style handler and a workflow step that both answer what `context.auth` holds. */
const SOURCE = `
export async function handler(event: any, context: any) {
  return { statusCode: 200, body: JSON.stringify({ auth: context.auth, header: event.headers["kumo-auth-claims"] ?? null }) };
}
export async function step(input: any, context: any) {
  return { auth: context.auth, input };
}`;

const ISSUER = "https://issuer.context-auth.test";
const AUDIENCE = "kumo-steps";

let t: TestGateway;
let tenant: { name: string; id: string; key: string };
let pair: Awaited<ReturnType<typeof generateKeyPair>>;
let other: Awaited<ReturnType<typeof generateKeyPair>>;

function token(key = pair.privateKey, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ sub: "user-7", role: "buyer", ...claims })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
}

async function deploy(name: string, config: Record<string, unknown>): Promise<void> {
  const created = await t.call("POST", "/v1/functions", { key: tenant.key, body: { name, runtime: "edge" } });
  expect(created.status, created.body).toBe(201);
  const dep = await t.call("POST", `/v1/functions/${name}/deployments`, {
    key: tenant.key,
    body: { files: { "index.ts": SOURCE }, config },
  });
  expect(dep.status, dep.body).toBe(202);
  expect(dep.json.status, dep.body).toBe("succeeded");
}

beforeAll(async () => {
  t = await startTestGateway({ edge: true });
  tenant = await t.tenant();
  pair = await generateKeyPair("ES256", { extractable: true });
  other = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
  await deploy("guarded", {
    httpAuth: { jwt: { publicKeys: [jwk], issuer: ISSUER, audiences: [AUDIENCE] } },
  });
  await deploy("open", {});
}, 120_000);

afterAll(async () => {
  await t?.close();
});

describe("context.auth", () => {
  it("context.auth - a Lambda-style handler behind httpAuth.jwt gets the verified claims as context.auth (edge)", async () => {
    const res = await t.call("GET", `/fn/${tenant.name}/guarded/`, {
      headers: { authorization: `Bearer ${await token()}` },
    });
    expect(res.status, res.body).toBe(200);
    expect(res.json.auth).toMatchObject({ sub: "user-7", role: "buyer", iss: ISSUER, aud: AUDIENCE });
    expect(JSON.parse(res.json.header)).toEqual(res.json.auth);
    // Without JWT auth there are no claims, and a client cannot forge them.
    const open = await t.call("GET", `/fn/${tenant.name}/open/`, {
      headers: { "kumo-auth-claims": '{"sub":"admin"}' },
    });
    expect(open.status, open.body).toBe(200);
    expect(open.json).toEqual({ auth: null, header: null });
  });

  it("context.auth - a step run with kumo-auth-token gets its verified claims; without one, null", async () => {
    const run = await t.call("POST", "/v1/functions/guarded/run", {
      key: tenant.key,
      headers: { "kumo-auth-token": await token(undefined, { tier: "gold" }) },
      body: { input: { n: 1 }, context: { workflowId: "wf-1" } },
    });
    expect(run.status, run.body).toBe(200);
    expect(run.json.output.auth).toMatchObject({ sub: "user-7", tier: "gold", iss: ISSUER });
    expect(run.json.output.input).toEqual({ n: 1 });
    const anonymous = await t.call("POST", "/v1/functions/guarded/run", { key: tenant.key, body: {} });
    expect(anonymous.status, anonymous.body).toBe(200);
    expect(anonymous.json.output.auth).toBeNull();
  });

  it("context.auth - a step run's token is verified: a bad one is 401 FN_009, a caller cannot set context.auth", async () => {
    const forged = await t.call("POST", "/v1/functions/guarded/run", {
      key: tenant.key,
      headers: { "kumo-auth-token": await token(other.privateKey) },
      body: {},
    });
    expectError(forged, 401, "FN_009");
    const garbage = await t.call("POST", "/v1/functions/guarded/run", {
      key: tenant.key,
      headers: { "kumo-auth-token": "not-a-jwt" },
      body: {},
    });
    expectError(garbage, 401, "FN_009");
    const injected = await t.call("POST", "/v1/functions/guarded/run", {
      key: tenant.key,
      body: { context: { auth: { sub: "admin" } } },
    });
    expect(expectError(injected, 400, "FN_006").message).toMatch(/auth/);
    // A function that verifies no JWTs cannot be handed one.
    const unverified = await t.call("POST", "/v1/functions/open/run", {
      key: tenant.key,
      headers: { "kumo-auth-token": await token() },
      body: {},
    });
    expect(expectError(unverified, 400, "FN_006").message).toMatch(/httpAuth/);
  });
});
