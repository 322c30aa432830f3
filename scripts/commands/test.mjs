// `npm test`: provision (PostgreSQL, NATS and Docker are all required), then vitest.
import { join } from "node:path";
import { childEnv, provision } from "../provision/index.mjs";
import { runForeground } from "./run-foreground.mjs";

/**
 * @param {import("../provision/settings.mjs").Settings} settings
 * @param {string[]} args passed on to `vitest run` (e.g. a test file)
 * @returns {Promise<number>} vitest's exit code
 */
export async function test(settings, args) {
  const env = childEnv(settings, {
    databaseUrl: settings.testDatabaseUrl,
    withDataDir: false,
    extra: { KUMO_TEST: "1" },
  });
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
  // The local binary, as `npx vitest` would pick, without npx's offer to download one.
  const vitest = join(settings.repoRoot, "node_modules", ".bin", "vitest");
  const { code } = await runForeground(vitest, ["run", ...args], { cwd: settings.repoRoot, env });
  return code;
}
