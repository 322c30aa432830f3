/**
 * Invocation-auth costs per request, in process, each next to a baseline measured in the same run:
 * - JWT verification with the key already imported (RS256 2048, ES256, EdDSA) through JwtVerifier
 *   (jose over WebCrypto), with the verified-token cache off (a signature check every time) and on
 *   (a client re-sending its token); baselines: an HMAC-SHA256 of the same token bytes and a
 *   synchronous node:crypto signature check of the same token (no jose, no promise).
 * - The rate-limit check (RateLimiter.check on a warm bucket); baseline: a Map lookup and increment.
 * Targets: JWT ≤ 20 µs p50 with a cached key, rate-limit check ≤ 5 µs.
 * Run: node --import tsx bench/auth.bench.ts [--iterations 20000]. Writes bench/results/auth.json.
 */
import { createHmac, createPublicKey, verify as cryptoVerify } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { functionConfigSchema, type JwtSettings, parseOrThrow } from "@kumo/core";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { JwksCache } from "../services/gateway/src/auth/jwks-cache.ts";
import { JwtVerifier } from "../services/gateway/src/auth/jwt-verifier.ts";
import { RateLimiter } from "../services/gateway/src/limits/rate-limiter.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({ options: { iterations: { type: "string", default: "20000" } } });
const iterations = Number(args.iterations);

const round = (n: number, digits = 2) => Number(n.toFixed(digits));

interface Stats {
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const mean = samples.reduce((s, v) => s + v, 0) / samples.length;
  return { p50Us: round(at(0.5) * 1000), p99Us: round(at(0.99) * 1000), meanUs: round(mean * 1000) };
}

/** Times each call on its own (async calls are awaited, as the gateway does per request). */
async function timeEach(n: number, run: () => unknown): Promise<Stats> {
  for (let i = 0; i < Math.min(2000, n); i++) await run(); // warm-up: JIT, key import
  const samples = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run();
    samples[i] = performance.now() - t0;
  }
  return stats(samples);
}

/** For sub-microsecond work: times batches of `batch` calls and reports per-call figures. */
function timeBatches(batches: number, batch: number, run: (i: number) => unknown): Stats {
  for (let i = 0; i < batch * 10; i++) run(i);
  const samples = new Array<number>(batches);
  let k = 0;
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) run(k++);
    samples[b] = (performance.now() - t0) / batch;
  }
  return stats(samples);
}

async function jwtCase(alg: "RS256" | "ES256" | "EdDSA") {
  const pair = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg };
  const config = parseOrThrow(
    functionConfigSchema,
    {
      runtime: "edge",
      httpAuth: {
        jwt: { publicKeys: [jwk], issuer: "https://issuer.bench", audiences: ["bench"], algorithms: [alg] },
      },
    },
    "kumo.json",
  );
  const settings = (config.httpAuth as { jwt: JwtSettings }).jwt;
  const token = await new SignJWT({ sub: "user-1", role: "buyer" })
    .setProtectedHeader({ alg, kid: "k1" })
    .setIssuer("https://issuer.bench")
    .setAudience("bench")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(pair.privateKey);
  const jwks = new JwksCache({
    fetcher: { fetch: async () => ({ keys: [] }) },
    ttlMs: 600_000,
    minRefreshMs: 30_000,
  });
  const fresh = new JwtVerifier({ jwks, verifiedTtlMs: 0 });
  const cached = new JwtVerifier({ jwks });
  const verifyFull = await timeEach(iterations, () => fresh.verify(token, settings));
  const verifyCachedToken = await timeEach(iterations, () => cached.verify(token, settings));
  // Baselines on the same bytes.
  const hmacKey = Buffer.alloc(32, 7);
  const hmac = await timeEach(iterations, () => createHmac("sha256", hmacKey).update(token).digest());
  const [head, body, sig] = token.split(".") as [string, string, string];
  const signed = Buffer.from(`${head}.${body}`);
  const signature = Buffer.from(sig, "base64url");
  const key = createPublicKey({ key: jwk, format: "jwk" });
  const nodeAlg = alg === "EdDSA" ? null : "sha256";
  const nodeOptions = alg === "ES256" ? { key, dsaEncoding: "ieee-p1363" as const } : key;
  const nodeVerify = await timeEach(iterations, () => cryptoVerify(nodeAlg, signed, nodeOptions, signature));
  return {
    alg,
    verifyFull,
    verifyCachedToken,
    baselineHmacSha256: hmac,
    baselineNodeCryptoVerify: nodeVerify,
  };
}

async function main(): Promise<void> {
  const jwt = [];
  for (const alg of ["RS256", "ES256", "EdDSA"] as const) jwt.push(await jwtCase(alg));

  const limiter = new RateLimiter();
  const keys = Array.from({ length: 1000 }, (_, i) => `fn_${i}|key|1000000/1m|k:key_${i}`);
  const now = Date.now();
  const rateLimitCheck = timeBatches(2000, 1000, (i) =>
    limiter.check(keys[i % 1000] as string, 1e12, 60_000, now),
  );
  const map = new Map<string, number>(keys.map((k) => [k, 0]));
  const mapBaseline = timeBatches(2000, 1000, (i) => {
    const k = keys[i % 1000] as string;
    map.set(k, (map.get(k) ?? 0) + 1);
  });

  const result = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version },
    iterations,
    jwt,
    rateLimit: { check: rateLimitCheck, baselineMapGetSet: mapBaseline, buckets: 1000 },
    targets: {
      jwtP50Us: 20,
      rateLimitP50Us: 5,
      jwtFullWithinTarget: Object.fromEntries(jwt.map((j) => [j.alg, j.verifyFull.p50Us <= 20])),
      jwtCachedTokenWithinTarget: Object.fromEntries(
        jwt.map((j) => [j.alg, j.verifyCachedToken.p50Us <= 20]),
      ),
      rateLimitWithinTarget: rateLimitCheck.p50Us <= 5,
    },
  };
  console.log(JSON.stringify(result, null, 2));
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "auth.json"), `${JSON.stringify(result, null, 2)}\n`);
}

await main();
