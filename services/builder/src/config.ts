import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { booleanFlag, dockerSocketOf, durationMs, parseOrThrow, portEnv, sharedEnv } from "@kumo/core";
import { z } from "zod";

/** Where distributions keep the system CA bundle (Debian/Ubuntu, Fedora/RHEL, openSUSE, Alpine), as Go looks for it. */
export const HOST_CA_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
  "/etc/ssl/cert.pem",
] as const;

export const builderConfigSchema = z.object({
  KUMO_HOST: sharedEnv.KUMO_HOST,
  KUMO_BUILDER_PORT: portEnv(8081),
  /** Where the gRPC BuildService listens: host:port, or unix:/path. */
  KUMO_BUILDER_LISTEN: z.string().min(1).default("127.0.0.1:8091"),
  KUMO_DATA_DIR: sharedEnv.KUMO_DATA_DIR,
  NATS_URL: sharedEnv.NATS_URL,
  DOCKER_HOST: sharedEnv.DOCKER_HOST,
  /**
   * A PEM file of CA certificates that dependency installs trust on top of the host's CA bundle
   * (which they always trust: a TLS-intercepting proxy's CA installed on the host needs no setting).
   */
  KUMO_BUILD_EXTRA_CA_CERTS: z
    .string()
    .refine((path) => existsSync(path), "no such file")
    .optional(),
  /**
   * The JSR registry that deno functions' `jsr:` imports are fetched from at build (a mirror);
   * unset, Deno's own default (https://jsr.io). The function image resolves them through the same URL.
   */
  KUMO_BUILD_JSR_URL: z.string().url().optional(),
  KUMO_BUILD_TIMEOUT: durationMs.pipe(z.number().min(1000)).default(600_000),
  KUMO_BUILD_MEMORY_MB: z.coerce.number().int().min(128).max(65_536).default(2048),
  KUMO_BUILD_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(1),
  /** Extra labels on everything a build creates, "k=v,k2=v2" (tests mark their images this way). */
  KUMO_BUILD_LABELS: z
    .string()
    .regex(/^([A-Za-z0-9_.-]+=[^,]*)(,[A-Za-z0-9_.-]+=[^,]*)*$/, "must be k=v pairs separated by commas")
    .optional(),
  /** Let git sources use file:// URLs (tests, single-user setups); never for untrusted tenants. */
  KUMO_BUILD_GIT_ALLOW_FILE: booleanFlag.default(false),
  /** Let git sources reach loopback, private, link-local and metadata addresses; never for untrusted tenants. */
  KUMO_BUILD_GIT_ALLOW_PRIVATE: booleanFlag.default(false),
  KUMO_BUILD_GIT_TIMEOUT: durationMs.pipe(z.number().min(1000)).default(120_000),
});

export interface BuilderConfig {
  host: string;
  port: number;
  /** gRPC listen address (host:port or unix:/path). */
  listen: string;
  dataDir: string;
  natsUrl: string;
  dockerSocket: string;
  /** The host's CA bundle (the first of HOST_CA_BUNDLES that exists), trusted by dependency installs. */
  hostCaFile: string | undefined;
  extraCaCertsFile: string | undefined;
  jsrUrl: string | undefined;
  buildTimeoutMs: number;
  buildMemoryMb: number;
  buildConcurrency: number;
  labels: Record<string, string>;
  gitAllowFile: boolean;
  gitAllowPrivate: boolean;
  gitTimeoutMs: number;
}

export function loadBuilderConfig(env: Record<string, string | undefined>): BuilderConfig {
  const c = parseOrThrow(builderConfigSchema, env, "builder configuration");
  const labels: Record<string, string> = {};
  for (const pair of c.KUMO_BUILD_LABELS?.split(",") ?? []) {
    const at = pair.indexOf("=");
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return {
    host: c.KUMO_HOST,
    port: c.KUMO_BUILDER_PORT,
    listen: c.KUMO_BUILDER_LISTEN,
    dataDir: resolve(c.KUMO_DATA_DIR),
    natsUrl: c.NATS_URL,
    dockerSocket: dockerSocketOf(c.DOCKER_HOST),
    hostCaFile: HOST_CA_BUNDLES.find((path) => existsSync(path)),
    extraCaCertsFile: c.KUMO_BUILD_EXTRA_CA_CERTS,
    jsrUrl: c.KUMO_BUILD_JSR_URL,
    buildTimeoutMs: c.KUMO_BUILD_TIMEOUT,
    buildMemoryMb: c.KUMO_BUILD_MEMORY_MB,
    buildConcurrency: c.KUMO_BUILD_CONCURRENCY,
    labels,
    gitAllowFile: c.KUMO_BUILD_GIT_ALLOW_FILE,
    gitAllowPrivate: c.KUMO_BUILD_GIT_ALLOW_PRIVATE,
    gitTimeoutMs: c.KUMO_BUILD_GIT_TIMEOUT,
  };
}
