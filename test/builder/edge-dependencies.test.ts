import { rmSync } from "node:fs";
import { join } from "node:path";
import { packSourceArchive } from "@kumo/source";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { type BuildKit, type Deployment, startBuildKit } from "./builder-kit.ts";

/**
 * npm packages in edge functions, against the real registry (through this machine's proxy, trusted
 * by the host CA bundle alone) and a real builder + gateway + isolate host. One dependency set is
 * installed once and shared: every function below deploys the same package.json, and the cache is
 * keyed by the dependency set, not by the function.
 */
const PACKAGE_JSON = JSON.stringify({
  name: "edge-libs",
  version: "1.0.0",
  private: true,
  dependencies: {
    dayjs: "1.11.13",
    zod: "3.24.1",
    "lodash-es": "4.17.21",
    hono: "4.6.14",
    "itty-router": "5.0.18",
    jose: "5.9.6",
    nanoid: "5.0.9",
    // Needs the Node built-in fs: only the function that imports it must fail.
    "graceful-fs": "4.2.11",
  },
});

const LIBS = (marker: string) => `
import dayjs from "dayjs";
import utc from "dayjs/plugin/utc";
import timezone from "dayjs/plugin/timezone";
import { z } from "zod";
import { chunk, groupBy, sortBy } from "lodash-es";
import { Hono } from "hono";
import { Router, json } from "itty-router";
import { SignJWT, generateKeyPair, jwtVerify } from "jose";
import { nanoid, customAlphabet } from "nanoid";

dayjs.extend(utc);
dayjs.extend(timezone);

const hono = new Hono();
hono.get("/hono/hello/:name", (c) => c.json({ hello: c.req.param("name"), ua: c.req.header("x-who") ?? null }));
hono.post("/hono/echo", async (c) => c.json(await c.req.json(), 201));

const itty = Router();
itty.get("/itty/items/:id", ({ params, query }) => json({ id: params.id, q: query.q }));

const User = z.object({ name: z.string().min(2), age: z.number().int().positive() });
const secret = new TextEncoder().encode("a-shared-secret-of-32-bytes-long!!");

/** The path after the function's prefix: /fn/<tenant>/<function>/... */
const sub = (request: Request) => {
  const url = new URL(request.url);
  const at = url.pathname.search(/\\/(dayjs|zod|lodash|hono|itty|jose|nanoid|marker)(\\/|$)/);
  return { path: at < 0 ? url.pathname : url.pathname.slice(at), search: url.search };
};

export default {
  async fetch(request: Request): Promise<Response> {
    const { path, search } = sub(request);
    const local = new Request("http://edge" + path + search, request);
    switch (path.split("/")[1]) {
      case "marker":
        return new Response(${JSON.stringify(marker)});
      case "dayjs":
        return Response.json({
          ny: dayjs.tz("2024-01-15 12:00", "America/New_York").utc().format(),
          tokyo: dayjs.utc("2024-07-01T00:00:00Z").tz("Asia/Tokyo").format("YYYY-MM-DD HH:mm"),
          added: dayjs("2024-01-31").add(1, "month").format("YYYY-MM-DD"),
        });
      case "zod": {
        const ok = User.safeParse({ name: "Ada", age: 36 });
        const bad = User.safeParse({ name: "A", age: -1 });
        return Response.json({
          ok: ok.success,
          issues: bad.success ? [] : bad.error.issues.map((i) => i.path.join(".")),
        });
      }
      case "lodash":
        return Response.json({
          chunks: chunk([1, 2, 3, 4, 5], 2),
          groups: groupBy(["one", "two", "three"], (w) => w.length),
          sorted: sortBy([{ n: 3 }, { n: 1 }, { n: 2 }], "n").map((o) => o.n),
        });
      case "hono":
        return hono.fetch(local);
      case "itty":
        return itty.fetch(local);
      case "jose": {
        const token = await new SignJWT({ sub: "user-1", role: "admin" })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuedAt()
          .setExpirationTime("2h")
          .sign(secret);
        const { payload, protectedHeader } = await jwtVerify(token, secret);
        const wrong = await jwtVerify(token, new TextEncoder().encode("another-secret-another-secret-xx"))
          .then(() => "accepted")
          .catch((e) => e.code);
        // RS256 and ES256 through crypto.subtle (the host's WebCrypto), as a JWKS-verifying API does.
        const asymmetric = {};
        for (const alg of ["RS256", "ES256"]) {
          const keys = await generateKeyPair(alg);
          const signed = await new SignJWT({ sub: "user-2" }).setProtectedHeader({ alg }).sign(keys.privateKey);
          const verified = await jwtVerify(signed, keys.publicKey);
          const other = await generateKeyPair(alg);
          asymmetric[alg] = {
            sub: verified.payload.sub,
            wrong: await jwtVerify(signed, other.publicKey).then(() => "accepted").catch((e) => e.code),
          };
        }
        return Response.json({ sub: payload.sub, role: payload.role, alg: protectedHeader.alg, wrong, asymmetric });
      }
      case "nanoid":
        return Response.json({ id: nanoid(), short: customAlphabet("abc", 8)() });
      default:
        return new Response("no such library", { status: 404 });
    }
  },
};
`;

let kit: BuildKit;
let first: Deployment;
let firstMs = 0;

const files = (index: string, extra: Record<string, string> = {}) => ({
  // The first Intl.DateTimeFormat with a time zone loads ICU's zone data: ~60 ms of CPU, once per isolate.
  "kumo.json": JSON.stringify({ runtime: "edge", cpuMs: 500 }),
  "package.json": PACKAGE_JSON,
  "index.ts": index,
  ...extra,
});

beforeAll(async () => {
  kit = await startBuildKit({ edge: true });
  const started = performance.now();
  first = await kit.deploy("libs", "edge", files(LIBS("first")));
  firstMs = performance.now() - started;
}, 300_000);

afterAll(async () => {
  await kit?.close();
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await kit.tg.call("GET", `/fn/${kit.tenant.name}/libs${path}`, { headers });
  return { status: res.status, json: res.json as Record<string, unknown>, body: res.body };
};

describe("edge dependencies", () => {
  it("edge deps - the first deploy installs through the builder's npm and the version is live", () => {
    expect(first.error, first.log).toBeNull();
    expect(first.status).toBe("succeeded");
    expect(first.log).toMatch(/dependencies: 8 packages \(no lockfile\) from the builder \(installed now\)/);
    expect(first.log).toMatch(
      /edge dependencies: npm install --omit=dev \(no lockfile\), install scripts off/,
    );
  });

  it("edge deps - dayjs with the utc and timezone plugins converts between zones", async () => {
    const res = await get("/dayjs");
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ ny: "2024-01-15T17:00:00Z", tokyo: "2024-07-01 09:00", added: "2024-02-29" });
  });

  it("edge deps - zod validates and reports the failing paths", async () => {
    const res = await get("/zod");
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ ok: true, issues: ["name", "age"] });
  });

  it("edge deps - lodash-es functions work tree-shaken from the ES build", async () => {
    const res = await get("/lodash");
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({
      chunks: [[1, 2], [3, 4], [5]],
      groups: { "3": ["one", "two"], "5": ["three"] },
      sorted: [1, 2, 3],
    });
  });

  it("edge deps - a hono app routes with params and JSON bodies", async () => {
    const hello = await get("/hono/hello/kumo", { "x-who": "test" });
    expect(hello.status, hello.body).toBe(200);
    expect(hello.json).toEqual({ hello: "kumo", ua: "test" });
    const echo = await kit.tg.call("POST", `/fn/${kit.tenant.name}/libs/hono/echo`, { body: { a: [1, 2] } });
    expect(echo.status, echo.body).toBe(201);
    expect(echo.json).toEqual({ a: [1, 2] });
  });

  it("edge deps - an itty-router router routes with params and query", async () => {
    const res = await get("/itty/items/42?q=blue");
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ id: "42", q: "blue" });
  });

  it("edge deps - jose signs and verifies HS256, RS256 and ES256 JWTs and refuses the wrong key", async () => {
    const res = await get("/jose");
    expect(res.status, res.body).toBe(200);
    const refused = "ERR_JWS_SIGNATURE_VERIFICATION_FAILED";
    expect(res.json).toEqual({
      sub: "user-1",
      role: "admin",
      alg: "HS256",
      wrong: refused,
      asymmetric: { RS256: { sub: "user-2", wrong: refused }, ES256: { sub: "user-2", wrong: refused } },
    });
  });

  it("edge deps - nanoid makes ids from the isolate's crypto.getRandomValues", async () => {
    const a = await get("/nanoid");
    const b = await get("/nanoid");
    expect(a.status, a.body).toBe(200);
    expect(a.json.id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(a.json.short).toMatch(/^[abc]{8}$/);
    expect(a.json.id).not.toBe(b.json.id);
  });

  it("edge deps - a package needing fs fails the deploy with FN_005 naming the package and the module", async () => {
    await kit.ensureFunction("needs-fs", "edge");
    const source = files(
      `import fs from "graceful-fs";\nexport default { fetch() { return new Response(String(fs.readFileSync)); } };\n`,
    );
    const res = await kit.tg.call("POST", "/v1/functions/needs-fs/deployments", {
      key: kit.tenant.key,
      body: await packSourceArchive(new Map(Object.entries(source).map(([p, c]) => [p, Buffer.from(c)]))),
      headers: { "content-type": "application/x-tar" },
    });
    expect(res.status, res.body).toBe(422);
    expect(res.json.error.code).toBe("FN_005");
    expect(res.json.error.message).toMatch(/package "graceful-fs" needs "fs", "util"/);
    expect(res.json.error.message).toMatch(/without Node built-in modules/);
    expect(res.json.error.details.builtins).toContainEqual({
      package: "graceful-fs",
      module: "fs",
      importer: "node_modules/graceful-fs/graceful-fs.js",
    });
    // The same dependency set as "libs": no second install.
    const id = res.json.error.details.deploymentId;
    expect(id, res.body).toBeTruthy();
    const failed = await kit.waitFor("needs-fs", id);
    expect(failed.status).toBe("failed");
    expect(failed.log).toMatch(/from the gateway cache/);
  });

  it("edge deps - a code-only redeploy reuses the install (gateway cache, then the builder's image)", async () => {
    const started = performance.now();
    const second = await kit.deploy("libs", "edge", files(LIBS("second")));
    const secondMs = performance.now() - started;
    expect(second.status, second.log).toBe("succeeded");
    expect(second.log).toMatch(/dependencies: 8 packages \(no lockfile\) from the gateway cache in \d+ ms/);
    expect((await get("/marker")).body).toBe("second");
    // A changed "version" or "scripts" does not change what is installed either.
    const bumped = JSON.stringify({ ...JSON.parse(PACKAGE_JSON), version: "1.0.1", scripts: { x: "y" } });
    const third = await kit.deploy("libs", "edge", { ...files(LIBS("third")), "package.json": bumped });
    expect(third.log).toMatch(/from the gateway cache/);

    // Another gateway (here: this one with its cache gone) gets the install from the builder's cache.
    rmSync(join(`/tmp/kumo-test-${kit.tg.schema}`, "edge-deps"), { recursive: true, force: true });
    const started4 = performance.now();
    const fourth = await kit.deploy("libs", "edge", files(LIBS("fourth")));
    const fourthMs = performance.now() - started4;
    expect(fourth.status, fourth.log).toBe("succeeded");
    expect(fourth.log).toMatch(/from the builder cache/);
    expect(fourth.log).toMatch(/were installed before: npm does not run/);
    expect((await get("/marker")).body).toBe("fourth");
    console.log(
      `edge deps timing: first deploy (npm install) ${firstMs.toFixed(0)} ms, code-only redeploy ${secondMs.toFixed(0)} ms, redeploy from the builder's cache ${fourthMs.toFixed(0)} ms`,
    );
    expect(secondMs).toBeLessThan(firstMs / 3);
  }, 120_000);

  it("edge deps - a draft run uses the installed set; an uninstalled set is FN_006 saying to deploy first", async () => {
    const code = `import { chunk } from "lodash-es";\nexport default { fetch() { return Response.json(chunk([1, 2, 3], 2)); } };\n`;
    const ok = await kit.tg.call("POST", "/v1/run", {
      key: kit.tenant.key,
      body: { runtime: "edge", files: { "package.json": PACKAGE_JSON, "index.ts": code } },
    });
    expect(ok.status, ok.body).toBe(200);
    expect(JSON.parse(ok.json.body)).toEqual([[1, 2], [3]]);
    const other = JSON.stringify({ dependencies: { "lodash-es": "4.17.20" } });
    const refused = await kit.tg.call("POST", "/v1/run", {
      key: kit.tenant.key,
      body: { runtime: "edge", files: { "package.json": other, "index.ts": code } },
    });
    expect(refused.status, refused.body).toBe(400);
    expect(refused.json.error.code).toBe("FN_006");
    expect(refused.json.error.message).toMatch(/not installed yet: deploy the function once/);
  }, 60_000);
});

describe("edge dependencies without a builder", () => {
  let tg: TestGateway;
  let key: string;
  let tenant: string;
  beforeAll(async () => {
    tg = await startTestGateway({ edge: true });
    const t = await tg.tenant();
    key = t.key;
    tenant = t.name;
    for (const name of ["plain", "wants-deps"])
      expect((await tg.call("POST", "/v1/functions", { key, body: { name, runtime: "edge" } })).status).toBe(
        201,
      );
  });
  afterAll(async () => {
    await tg?.close();
  });

  const deploy = (name: string, source: Record<string, string>) =>
    tg.call("POST", `/v1/functions/${name}/deployments`, { key, body: { files: source } });

  it("edge deps - a package.json without dependencies never asks for a builder", async () => {
    const res = await deploy("plain", {
      "package.json": JSON.stringify({ name: "plain", devDependencies: { typescript: "5.0.0" } }),
      "index.ts": `export default { fetch() { return new Response("plain"); } };`,
    });
    expect(res.status, res.body).toBe(202);
    expect(res.json.status).toBe("succeeded");
    expect((await tg.call("GET", `/fn/${tenant}/plain/`)).body).toBe("plain");
  });

  it("edge deps - dependencies with no builder configured, or a broken package.json, are FN_006", async () => {
    const index = `export default { fetch() { return new Response("x"); } };`;
    const res = await deploy("wants-deps", {
      "package.json": JSON.stringify({ dependencies: { nanoid: "5.0.9" } }),
      "index.ts": index,
    });
    expect(res.status, res.body).toBe(400);
    expect(res.json.error.code).toBe("FN_006");
    expect(res.json.error.message).toMatch(/installed by the builder service.*KUMO_BUILDER_URL/);
    const broken = await deploy("wants-deps", { "package.json": "{ nope", "index.ts": index });
    expect(broken.status, broken.body).toBe(400);
    expect(broken.json.error.code).toBe("FN_006");
    expect(broken.json.error.message).toMatch(/package\.json is not valid JSON/);
  });
});
