// Provisioning: everything `npm start`, `npm test` and `npm bench` need before they run,
// checked (and, where missing, installed and started) in order, one status line per step.
import { mkdirSync } from "node:fs";
import { buildBaseImages } from "./base-images.mjs";
import { ensureChromium } from "./chromium.mjs";
import { ensureConsole } from "./console.mjs";
import { ensureDeps } from "./deps.mjs";
import { ensureDocker } from "./docker.mjs";
import { ensureDocs } from "./docs.mjs";
import { ensureHaproxy } from "./haproxy.mjs";
import { skip } from "./log.mjs";
import { ensureNats } from "./nats.mjs";
import { ensurePostgres, reportEmbedded } from "./postgres.mjs";
import { ensureLogicalReplication } from "./postgres-replication.mjs";
import { ensurePrometheus } from "./prometheus.mjs";
import { ensureRabbitMq } from "./rabbitmq.mjs";
import { printSummary } from "./summary.mjs";

export { ProvisionError } from "./provision-error.mjs";
export { childEnv, loadSettings } from "./settings.mjs";

/**
 * @typedef {object} Needs
 * @property {string | undefined} databaseUrl  the PostgreSQL to ensure; undefined: embedded PGlite
 * @property {boolean} dockerRequired          false: warn and go on without container runtimes
 * @property {boolean} [logicalReplication]    tests and benchmarks: the PostgreSQL gets wal_level=logical
 *                                             (restarted once if it had another level)
 * @property {boolean} [rabbitmq]              tests and benchmarks: a RabbitMQ on 127.0.0.1:5672 (queue
 *                                             triggers on an external broker); never for `npm start`
 * @property {boolean} [chromium]              tests and benchmarks: Debian's chromium for the console's
 *                                             browser tests; never for `npm start`
 * @property {boolean} [prometheus]            tests: Debian's prometheus and promtool (the shipped
 *                                             scrape config and rules are tested against Kumo)
 * @property {boolean} [haproxy]               tests and benchmarks: Debian's haproxy (the cluster test
 *                                             balances two gateways with deploy/haproxy/haproxy.cfg)
 * @property {NodeJS.ProcessEnv} env           the environment the command will run with
 */

/**
 * @param {import("./settings.mjs").Settings} settings
 * @param {Needs} needs
 */
export async function provision(settings, needs) {
  const startedAt = Date.now();
  ensureDeps(settings.repoRoot);
  // Like node_modules, part of the checkout rather than a service: built even when services are skipped.
  ensureConsole(settings.repoRoot);
  ensureDocs(settings.repoRoot);
  if (settings.skipProvision) {
    skip("services", "KUMO_SKIP_PROVISION=1: NATS, PostgreSQL, Docker and images not checked");
    return;
  }
  mkdirSync(settings.dataDir, { recursive: true });
  const nats = await ensureNats(settings);
  const postgres = needs.databaseUrl
    ? await ensurePostgres(settings, needs.databaseUrl)
    : reportEmbedded(settings);
  if (needs.databaseUrl && needs.logicalReplication) {
    const done = await ensureLogicalReplication(settings, needs.databaseUrl);
    if (done) postgres.state += `, ${done}`;
  }
  const rabbitmq = needs.rabbitmq ? [await ensureRabbitMq(settings)] : [];
  const chromium = needs.chromium ? [ensureChromium(settings)] : [];
  const prometheus = needs.prometheus ? [ensurePrometheus(settings)] : [];
  const haproxy = needs.haproxy ? [ensureHaproxy(settings)] : [];
  const docker = await ensureDocker(settings, { required: needs.dockerRequired });
  buildBaseImages(settings, needs.env, {
    dockerAvailable: docker.state !== "unavailable",
    required: needs.dockerRequired,
  });
  printSummary(
    settings,
    [nats, postgres, ...rabbitmq, ...chromium, ...prometheus, ...haproxy, docker],
    startedAt,
  );
}
