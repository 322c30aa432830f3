// Step 3: PostgreSQL at DATABASE_URL (or the test default), with its database created.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { aptInstall } from "./apt.mjs";
import { act, ok, skip, warn } from "./log.mjs";
import { formatHostPort, isLoopback } from "./net.mjs";
import {
  clusterLabel,
  controlCluster,
  createDatabase,
  hasClusterTools,
  hbaFile,
  listClusters,
  trustLoopback,
} from "./postgres-cluster.mjs";
import { parsePostgresUrl, probePostgres, redactUrl } from "./postgres-probe.mjs";
import { isRoot, tail, which } from "./proc.mjs";
import { ProvisionError } from "./provision-error.mjs";
import { waitUntil } from "./wait.mjs";

const STEP = "postgres";
const READY_TIMEOUT_MS = 60_000;

/**
 * `start` without DATABASE_URL needs no server: the platform keeps its data in PGlite.
 * @param {import("./settings.mjs").Settings} settings
 * @returns {import("./summary.mjs").ServiceReport}
 */
export function reportEmbedded(settings) {
  skip(STEP, `DATABASE_URL not set: the platform uses embedded PGlite in ${settings.dataDir}`);
  return { name: STEP, address: "embedded PGlite", state: `in ${settings.dataDir}` };
}

/**
 * Make sure the server at `url` accepts connections and has the URL's database.
 * @param {import("./settings.mjs").Settings} settings
 * @param {string} url
 * @returns {Promise<import("./summary.mjs").ServiceReport>}
 */
export async function ensurePostgres(settings, url) {
  const target = parsePostgresUrl(url);
  const where = formatHostPort(target.host, target.port);
  const logFile = join(settings.dataDir, "postgres-setup.log");
  let state = "already running";

  let probe = await probePostgres(target);
  if (probe.state === "unreachable" || probe.state === "starting") {
    if (probe.state === "unreachable") {
      if (!isLoopback(target.host)) {
        throw new ProvisionError(STEP, `not reachable at ${where}`, "start that server, or fix DATABASE_URL");
      }
      state = startLocalServer(settings, target.port, logFile);
    }
    probe = await waitForServer(target, where);
  }

  if (probe.state === "no-database") {
    ensureDatabase(target, logFile);
    state += `, created database "${target.database}"`;
    probe = await probePostgres(target);
  }

  switch (probe.state) {
    case "ready":
      ok(STEP, `reachable at ${where}, database "${target.database}"`);
      break;
    case "password":
      ok(STEP, `reachable at ${where}; the server asks for a password (checked when the platform connects)`);
      if (!target.password)
        warn(STEP, "DATABASE_URL has no password: set one, or allow trust for loopback in pg_hba.conf");
      break;
    default:
      throw new ProvisionError(
        STEP,
        `${where} refused the connection: ${probe.message ?? probe.state}`,
        `check the user and database in DATABASE_URL (${redactUrl(url)}) and pg_hba.conf`,
      );
  }
  return { name: STEP, address: redactUrl(url), state };
}

/**
 * Start (installing first if needed) the Debian cluster that should listen on `port`.
 * @param {import("./settings.mjs").Settings} settings
 * @param {number} port
 * @param {string} logFile
 * @returns {string} what was done, for the summary
 */
function startLocalServer(settings, port, logFile) {
  mkdirSync(settings.dataDir, { recursive: true });
  let installedNow = false;
  if (!hasClusterTools()) {
    aptInstall(STEP, ["postgresql"], join(settings.dataDir, "apt.log"));
    installedNow = true;
  }
  const clusters = listClusters();
  const cluster = clusters.find((candidate) => candidate.port === port);
  if (!cluster) {
    const known = clusters.map((c) => `${clusterLabel(c)} on port ${c.port}`).join(", ") || "none";
    throw new ProvisionError(
      STEP,
      `no PostgreSQL cluster listens on port ${port} (clusters: ${known})`,
      `create one: pg_createcluster --port ${port} <version> main --start`,
    );
  }
  if (installedNow && trustLoopback(cluster)) {
    act(
      STEP,
      `set host connections from 127.0.0.1/32 and ::1/128 to trust in ${hbaFile(cluster)} (local development)`,
    );
  }
  if (!isRoot()) {
    throw new ProvisionError(
      STEP,
      `cluster ${clusterLabel(cluster)} is ${cluster.online ? "running but not answering" : "stopped"}`,
      `start it: sudo pg_ctlcluster ${cluster.version} ${cluster.name} start`,
    );
  }
  // The package's postinst may already have started the cluster; then only the hba edit needs loading.
  const action = cluster.online ? "reload" : "start";
  act(STEP, `pg_ctlcluster --skip-systemctl-redirect ${cluster.version} ${cluster.name} ${action}`);
  if (!controlCluster(cluster, action, logFile)) {
    throw new ProvisionError(
      STEP,
      `pg_ctlcluster ${action} failed`,
      `${tail(logFile)}\nserver log: ${cluster.logFile}`,
    );
  }
  return installedNow
    ? `installed and started cluster ${clusterLabel(cluster)}`
    : `started cluster ${clusterLabel(cluster)}`;
}

/**
 * @param {import("./postgres-probe.mjs").PostgresTarget} target
 * @param {string} where
 */
async function waitForServer(target, where) {
  const result = await waitUntil(
    async () => {
      const probe = await probePostgres(target);
      return probe.state === "unreachable" || probe.state === "starting" ? undefined : probe;
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 500 },
  );
  if (!result.ready) throw new ProvisionError(STEP, `${where} ${result.reason}`);
  return result.value;
}

/**
 * @param {import("./postgres-probe.mjs").PostgresTarget} target
 * @param {string} logFile
 */
function ensureDatabase(target, logFile) {
  if (!isLoopback(target.host) || !which("createdb")) {
    throw new ProvisionError(
      STEP,
      `database "${target.database}" does not exist`,
      `create it: createdb ${target.database}`,
    );
  }
  act(STEP, `creating database "${target.database}" (log: ${logFile})`);
  if (!createDatabase(target, logFile)) {
    throw new ProvisionError(STEP, `could not create database "${target.database}"`, tail(logFile));
  }
}
