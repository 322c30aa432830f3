// Debian's postgresql-common cluster tools (pg_lsclusters, pg_ctlcluster): how a PostgreSQL
// installed from apt is found, started and configured without systemd.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { capture, isRoot, runLogged, which } from "./proc.mjs";

/**
 * @typedef {object} Cluster
 * @property {string} version
 * @property {string} name
 * @property {number} port
 * @property {boolean} online
 * @property {string} logFile
 */

/** Whether Debian's PostgreSQL server tooling is installed. */
export function hasClusterTools() {
  return Boolean(which("pg_lsclusters") && which("pg_ctlcluster"));
}

/** @returns {Cluster[]} */
export function listClusters() {
  const output = capture("pg_lsclusters", ["--no-header"]) ?? "";
  return output
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((columns) => columns.length >= 6)
    .map(([version, name, port, status, , , logFile]) => ({
      version,
      name,
      port: Number(port),
      online: status.startsWith("online"),
      logFile: logFile ?? "",
    }));
}

/** @param {Cluster} cluster */
export function clusterLabel(cluster) {
  return `${cluster.version}/${cluster.name}`;
}

/**
 * Start, reload or restart a cluster. `--skip-systemctl-redirect` because these machines (containers,
 * CI) often have no systemd, and where they do the cluster still runs fine this way.
 * @param {Cluster} cluster
 * @param {"start" | "reload" | "restart"} action
 * @param {string} logFile
 * @returns {boolean} success
 */
export function controlCluster(cluster, action, logFile) {
  const args = ["--skip-systemctl-redirect", cluster.version, cluster.name, action];
  return runLogged("pg_ctlcluster", args, { logFile, timeoutMs: 120_000 }) === 0;
}

/** @param {Cluster} cluster */
export function hbaFile(cluster) {
  return `/etc/postgresql/${cluster.version}/${cluster.name}/pg_hba.conf`;
}

// host <database> <user> <address> <method> [options]
const LOOPBACK_HOST_LINE = /^(\s*host\s+\S+\s+\S+\s+(?:127\.0\.0\.1\/32|::1\/128)\s+)(\S+)(.*)$/;

/**
 * Switch pg_hba.conf host lines for 127.0.0.1/32 and ::1/128 to `trust`, so the passwordless
 * default DATABASE_URL works. Only ever applied to a cluster this script just installed: an
 * operator's existing authentication setup is theirs.
 * @param {Cluster} cluster
 * @returns {boolean} whether the file changed
 */
export function trustLoopback(cluster) {
  const file = hbaFile(cluster);
  if (!existsSync(file)) return false;
  const before = readFileSync(file, "utf8");
  const after = before
    .split("\n")
    .map((line) => line.replace(LOOPBACK_HOST_LINE, (_all, head, _method, rest) => `${head}trust${rest}`))
    .join("\n");
  if (after === before) return false;
  writeFileSync(file, `# kumo: loopback connections use trust (local development only)\n${after}`);
  return true;
}

/**
 * Create a database. As root, through the postgres superuser over the local socket (peer auth
 * works whatever pg_hba says for TCP); otherwise as the URL's user over TCP.
 * @param {import("./postgres-probe.mjs").PostgresTarget} target
 * @param {string} logFile
 * @returns {boolean} success
 */
export function createDatabase(target, logFile) {
  const owner = target.user === "postgres" ? [] : ["-O", target.user];
  if (isRoot() && which("runuser")) {
    const args = ["-u", "postgres", "--", "createdb", "-p", String(target.port), ...owner, target.database];
    return runLogged("runuser", args, { logFile }) === 0;
  }
  const args = ["-h", target.host, "-p", String(target.port), "-U", target.user, "-w", target.database];
  return runLogged("createdb", args, { logFile, env: { ...process.env, PGPASSWORD: target.password } }) === 0;
}
