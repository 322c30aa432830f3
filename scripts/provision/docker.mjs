// Step 4: a Docker engine for building images and running container functions.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { aptInstall } from "./apt.mjs";
import { DEFAULT_SOCKET, describeEndpoint, dockerEndpoint, pingDocker } from "./docker-ping.mjs";
import { act, detail, ok, warn } from "./log.mjs";
import { isAlive, isRoot, spawnDetached, tail, which } from "./proc.mjs";
import { ProvisionError } from "./provision-error.mjs";
import { waitUntil } from "./wait.mjs";

const STEP = "docker";
const PID_FILE = "/var/run/docker.pid";
const READY_TIMEOUT_MS = 60_000;

/**
 * @param {import("./settings.mjs").Settings} settings
 * @param {{ required: boolean }} options `start` runs without Docker (edge functions only); tests need it.
 * @returns {Promise<import("./summary.mjs").ServiceReport>}
 */
export async function ensureDocker(settings, options) {
  try {
    return await ensureEngine(settings);
  } catch (error) {
    if (options.required || !(error instanceof ProvisionError)) throw error;
    warn(STEP, `${error.message}: container runtimes are unavailable (edge functions still work)`);
    if (error.hint) detail(error.hint);
    return {
      name: STEP,
      address: describeEndpoint(dockerEndpoint(settings.dockerHost)),
      state: "unavailable",
    };
  }
}

/**
 * @param {import("./settings.mjs").Settings} settings
 * @returns {Promise<import("./summary.mjs").ServiceReport>}
 */
async function ensureEngine(settings) {
  const endpoint = dockerEndpoint(settings.dockerHost);
  const where = describeEndpoint(endpoint);
  const report = (state, logFile) => ({ name: STEP, address: where, state, logFile });

  const ping = await pingDocker(endpoint);
  if (ping.ok) {
    ok(STEP, `engine answering at ${where} (Docker ${ping.version ?? "?"})`);
    return report("already running");
  }
  if (ping.code === "EACCES") {
    throw new ProvisionError(
      STEP,
      `permission denied on ${where}`,
      "add your user to the docker group and log in again, or run as root",
    );
  }
  if (endpoint.kind !== "unix" || endpoint.socketPath !== DEFAULT_SOCKET) {
    throw new ProvisionError(
      STEP,
      `no engine answering at ${where} (${ping.reason})`,
      "start it, or unset DOCKER_HOST to use a local one",
    );
  }
  if (!isRoot()) {
    throw new ProvisionError(
      STEP,
      `no engine answering at ${where}`,
      "start it as root: sudo dockerd (or sudo systemctl start docker)",
    );
  }

  // A dockerd that is still coming up owns the pid file: wait for it rather than start a second one.
  const pid = livePid();
  if (pid) {
    act(STEP, `dockerd (pid ${pid}) is running but not answering yet; waiting`);
    await waitForEngine(endpoint, where);
    return report("already running");
  }

  if (!which("dockerd")) {
    aptInstall(STEP, ["docker.io"], join(settings.dataDir, "apt.log"));
    // With systemd the package starts the engine itself.
    const afterInstall = await pingDocker(endpoint);
    if (afterInstall.ok) {
      ok(
        STEP,
        `engine answering at ${where} (Docker ${afterInstall.version ?? "?"}), started by the package`,
      );
      return report("installed");
    }
  }
  return startEngine(settings, endpoint, where, report);
}

/**
 * @param {import("./settings.mjs").Settings} settings
 * @param {import("./docker-ping.mjs").DockerEndpoint} endpoint
 * @param {string} where
 * @param {(state: string, logFile?: string) => import("./summary.mjs").ServiceReport} report
 */
async function startEngine(settings, endpoint, where, report) {
  const binary = which("dockerd");
  if (!binary) throw new ProvisionError(STEP, "dockerd is still missing after apt-get install");
  if (existsSync(PID_FILE)) {
    // Left by a dockerd that died; dockerd refuses to start while it exists.
    act(STEP, `removing stale ${PID_FILE}`);
    rmSync(PID_FILE, { force: true });
  }
  const logFile = join(settings.dataDir, "dockerd.log");
  act(STEP, `starting dockerd (log: ${logFile})`);
  // dockerd shells out to iptables, modprobe and friends, which live in sbin.
  const path = [process.env.PATH, "/usr/local/sbin", "/usr/sbin", "/sbin"].filter(Boolean).join(":");
  const engine = spawnDetached(binary, [], { logFile, env: { ...process.env, PATH: path } });
  await waitForEngine(endpoint, where, engine.exited, logFile);
  return report(`started (pid ${engine.pid})`, logFile);
}

/**
 * @param {import("./docker-ping.mjs").DockerEndpoint} endpoint
 * @param {string} where
 * @param {Promise<string>} [exited]
 * @param {string} [logFile]
 */
async function waitForEngine(endpoint, where, exited, logFile) {
  const result = await waitUntil(
    async () => {
      const ping = await pingDocker(endpoint);
      return ping.ok ? ping : undefined;
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 500, exited },
  );
  if (!result.ready) {
    throw new ProvisionError(STEP, `dockerd ${result.reason}`, logFile ? tail(logFile) : undefined);
  }
  ok(STEP, `engine answering at ${where} (Docker ${result.value.version ?? "?"})`);
}

/** The pid in dockerd's pid file if that process is alive and still dockerd (pids get reused). */
function livePid() {
  if (!existsSync(PID_FILE)) return undefined;
  const pid = Number(readFileSync(PID_FILE, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  const comm = `/proc/${pid}/comm`;
  return !existsSync(comm) || readFileSync(comm, "utf8").trim() === "dockerd" ? pid : undefined;
}
