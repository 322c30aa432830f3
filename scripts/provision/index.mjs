// Provisioning: everything `npm start`, `npm test` and `npm bench` need before they run,
// checked (and, where missing, installed and started) in order, one status line per step.
import { mkdirSync } from "node:fs";
import { buildBaseImages } from "./base-images.mjs";
import { ensureDeps } from "./deps.mjs";
import { ensureDocker } from "./docker.mjs";
import { skip } from "./log.mjs";
import { ensureNats } from "./nats.mjs";
import { ensurePostgres, reportEmbedded } from "./postgres.mjs";
import { printSummary } from "./summary.mjs";

export { ProvisionError } from "./provision-error.mjs";
export { childEnv, loadSettings } from "./settings.mjs";

/**
 * @typedef {object} Needs
 * @property {string | undefined} databaseUrl  the PostgreSQL to ensure; undefined: embedded PGlite
 * @property {boolean} dockerRequired          false: warn and go on without container runtimes
 * @property {NodeJS.ProcessEnv} env           the environment the command will run with
 */

/**
 * @param {import("./settings.mjs").Settings} settings
 * @param {Needs} needs
 */
export async function provision(settings, needs) {
  const startedAt = Date.now();
  ensureDeps(settings.repoRoot);
  if (settings.skipProvision) {
    skip("services", "KUMO_SKIP_PROVISION=1: NATS, PostgreSQL, Docker and images not checked");
    return;
  }
  mkdirSync(settings.dataDir, { recursive: true });
  const nats = await ensureNats(settings);
  const postgres = needs.databaseUrl
    ? await ensurePostgres(settings, needs.databaseUrl)
    : reportEmbedded(settings);
  const docker = await ensureDocker(settings, { required: needs.dockerRequired });
  buildBaseImages(settings, needs.env, {
    dockerAvailable: docker.state !== "unavailable",
    required: needs.dockerRequired,
  });
  printSummary(settings, [nats, postgres, docker], startedAt);
}
