// `npm start`: provision, then run the all-in-one platform (apps/all-in-one).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { childEnv, ProvisionError, provision } from "../provision/index.mjs";
import { runForeground } from "./run-foreground.mjs";

const LAUNCHER = "apps/all-in-one/src/main.ts";

/**
 * @param {import("../provision/settings.mjs").Settings} settings
 * @param {string[]} args passed on to the launcher (--port, --data-dir)
 * @returns {Promise<number>} exit code
 */
export async function start(settings, args) {
  // DATABASE_URL only when the operator set one: without it the platform uses PGlite.
  const env = childEnv(settings, { databaseUrl: settings.databaseUrl, withDataDir: true });
  await provision(settings, { databaseUrl: settings.databaseUrl, dockerRequired: false, env });
  if (!existsSync(join(settings.repoRoot, LAUNCHER))) {
    throw new ProvisionError(
      "start",
      `${LAUNCHER} not found`,
      "the all-in-one launcher is missing from this checkout",
    );
  }
  // KUMO_PORT and the rest of the caller's environment pass through unchanged. The platform runs in
  // its own process group, so if this launcher is killed outright (SIGKILL: nothing to forward), it
  // would live on holding its port: with our pid it notices that its parent changed and stops itself.
  const { code } = await runForeground(process.execPath, ["--import", "tsx", LAUNCHER, ...args], {
    cwd: settings.repoRoot,
    env: { ...env, KUMO_LAUNCHER_PID: String(process.pid) },
  });
  return code;
}
