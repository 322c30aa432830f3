// Everything provisioning and the commands need to know, read from the environment once.
import { join, resolve } from "node:path";

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
export const DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";

/**
 * @typedef {object} Settings
 * @property {string} repoRoot
 * @property {string} dataDir      where Kumo and the daemons it starts keep state and logs
 * @property {string} natsUrl      always with a scheme, so services can parse it as a URL
 * @property {string | undefined} databaseUrl      DATABASE_URL as set by the operator
 * @property {string} testDatabaseUrl              what `test` and `bench` use
 * @property {string | undefined} dockerHost
 * @property {boolean} skipProvision
 */

/**
 * @param {NodeJS.ProcessEnv} env
 * @param {string} repoRoot
 * @returns {Settings}
 */
export function loadSettings(env, repoRoot) {
  return {
    repoRoot,
    dataDir: resolve(env.KUMO_DATA_DIR || join(repoRoot, ".kumo")),
    natsUrl: withScheme(env.NATS_URL || DEFAULT_NATS_URL, "nats"),
    databaseUrl: env.DATABASE_URL || undefined,
    testDatabaseUrl: env.DATABASE_URL || DEFAULT_TEST_DATABASE_URL,
    dockerHost: env.DOCKER_HOST || undefined,
    skipProvision: env.KUMO_SKIP_PROVISION === "1",
  };
}

/**
 * `127.0.0.1:4333` is a common way to write NATS_URL; give every entry of the list a scheme so
 * a service config that validates URLs accepts it.
 * @param {string} urls
 * @param {string} scheme
 */
function withScheme(urls, scheme) {
  return urls
    .split(",")
    .map((url) => url.trim())
    .map((url) => (url.includes("://") ? url : `${scheme}://${url}`))
    .join(",");
}

/**
 * The environment for the processes Kumo runs (the platform, tests, benchmarks, the images
 * script): the caller's, plus the resolved locations, so every child agrees on them.
 * `withDataDir: false` leaves KUMO_DATA_DIR as the caller set it (tests make their own
 * temporary directories rather than share the platform's).
 * @param {Settings} settings
 * @param {{ databaseUrl: string | undefined, withDataDir: boolean, extra?: Record<string, string> }} options
 * @returns {NodeJS.ProcessEnv}
 */
export function childEnv(settings, options) {
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, NATS_URL: settings.natsUrl, ...options.extra };
  if (options.withDataDir) env.KUMO_DATA_DIR = settings.dataDir;
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  // An empty DATABASE_URL would read as "set" to a config schema; without one the platform uses PGlite.
  else delete env.DATABASE_URL;
  return env;
}
