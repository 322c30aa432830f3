// `node scripts/kumo.mjs provision`: what `test` and `bench` need, and nothing else (CI runs
// this before lint and typecheck, which need node_modules).
import { childEnv, provision } from "../provision/index.mjs";

/**
 * @param {import("../provision/settings.mjs").Settings} settings
 * @returns {Promise<number>}
 */
export async function provisionOnly(settings) {
  const env = childEnv(settings, { databaseUrl: settings.testDatabaseUrl, withDataDir: true });
  await provision(settings, {
    databaseUrl: settings.testDatabaseUrl,
    dockerRequired: true,
    logicalReplication: true,
    rabbitmq: true,
    prometheus: true,
    chromium: true,
    haproxy: true,
    env,
  });
  return 0;
}
