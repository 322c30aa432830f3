// Step 3b (tests and benchmarks): the PostgreSQL at the test URL must allow logical replication,
// because database-trigger tests point triggers at it. `wal_level` can only change with a restart.
import { join } from "node:path";
import { act, ok, warn } from "./log.mjs";
import { isLoopback } from "./net.mjs";
import { clusterLabel, controlCluster, hasClusterTools, listClusters } from "./postgres-cluster.mjs";
import { parsePostgresUrl, probePostgres } from "./postgres-probe.mjs";
import { capture, tail, which } from "./proc.mjs";
import { ProvisionError } from "./provision-error.mjs";
import { waitUntil } from "./wait.mjs";

const STEP = "postgres";

/**
 * What database triggers need from the server. Parallel test files each hold a slot and a
 * walsender per trigger while they run, hence more than the default 10.
 */
const WANTED = /** @type {const} */ ([
  { name: "wal_level", value: "logical", ok: (/** @type {string} */ v) => v === "logical" },
  { name: "max_replication_slots", value: "40", ok: (/** @type {string} */ v) => Number(v) >= 40 },
  { name: "max_wal_senders", value: "40", ok: (/** @type {string} */ v) => Number(v) >= 40 },
]);

/**
 * Makes the server at `url` ready for logical replication: when `show wal_level` (or the slot and
 * walsender limits) say otherwise, `ALTER SYSTEM SET` them and restart the server. Idempotent: a
 * server already set up is only read. Only a loopback server of a Debian cluster is restarted
 * (through pg_ctlcluster); any other server gets a ProvisionError saying what to set.
 * @param {import("./settings.mjs").Settings} settings
 * @param {string} url
 * @returns {Promise<string | undefined>} what was done, for the summary (undefined: nothing)
 */
export async function ensureLogicalReplication(settings, url) {
  const psql = which("psql");
  if (!psql) {
    warn(STEP, "psql not found: wal_level not checked (database-trigger tests need wal_level=logical)");
    return undefined;
  }
  const current = readSettings(psql, url);
  if (!current) {
    warn(STEP, "could not read wal_level with psql: database-trigger tests need wal_level=logical");
    return undefined;
  }
  const missing = WANTED.filter((w) => !w.ok(current[w.name] ?? ""));
  if (missing.length === 0) {
    ok(STEP, `logical replication on (wal_level=${current.wal_level})`);
    return undefined;
  }
  const target = parsePostgresUrl(url);
  const wanted = missing.map((w) => `${w.name}=${w.value}`).join(", ");
  const cluster =
    isLoopback(target.host) && hasClusterTools()
      ? listClusters().find((c) => c.port === target.port)
      : undefined;
  if (!cluster) {
    throw new ProvisionError(
      STEP,
      `the server at ${target.host}:${target.port} needs ${wanted} (database-trigger tests)`,
      `set them (ALTER SYSTEM SET ...) and restart PostgreSQL`,
    );
  }
  act(STEP, `ALTER SYSTEM SET ${wanted}, then restarting cluster ${clusterLabel(cluster)}`);
  // One -c per statement: ALTER SYSTEM refuses to run in the transaction psql makes of a list.
  const statements = missing.map((w) => `ALTER SYSTEM SET ${w.name} = '${w.value}'`);
  if (capture(psql, [url, "-v", "ON_ERROR_STOP=1", ...statements.flatMap((s) => ["-c", s])]) === undefined) {
    throw new ProvisionError(
      STEP,
      "ALTER SYSTEM failed (the URL's user must be a superuser)",
      `run as a superuser: ${statements.join("; ")}`,
    );
  }
  const logFile = join(settings.dataDir, "postgres-setup.log");
  if (!controlCluster(cluster, "restart", logFile)) {
    throw new ProvisionError(STEP, "pg_ctlcluster restart failed", tail(logFile));
  }
  const ready = await waitUntil(
    async () => ((await probePostgres(target)).state === "ready" ? true : undefined),
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  if (!ready.ready) throw new ProvisionError(STEP, `after the restart the server is ${ready.reason}`);
  const after = readSettings(psql, url);
  if (after?.wal_level !== "logical") {
    throw new ProvisionError(STEP, `wal_level is still ${after?.wal_level ?? "unknown"} after the restart`);
  }
  ok(STEP, `logical replication on (restarted ${clusterLabel(cluster)})`);
  return `restarted with ${wanted}`;
}

/**
 * @param {string} psql
 * @param {string} url
 * @returns {Record<string, string> | undefined}
 */
function readSettings(psql, url) {
  const names = WANTED.map((w) => `'${w.name}'`).join(", ");
  const out = capture(psql, [
    url,
    "-Atc",
    `select name || '=' || setting from pg_settings where name in (${names})`,
  ]);
  if (out === undefined) return undefined;
  return Object.fromEntries(out.split("\n").map((line) => line.split("=")));
}
