// Step 2: a NATS server with JetStream, which every Kumo service needs.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { aptInstall } from "./apt.mjs";
import { act, ok, warn } from "./log.mjs";
import { acceptsTcp, formatHostPort, isLoopback, parseEndpoint, withTcpConnection } from "./net.mjs";
import { spawnDetached, tail, which } from "./proc.mjs";
import { ProvisionError } from "./provision-error.mjs";
import { waitUntil } from "./wait.mjs";

const STEP = "nats";
const DEFAULT_PORT = 4222;
const READY_TIMEOUT_MS = 20_000;

/**
 * Make sure a NATS server answers at the settings' NATS_URL, starting a local one if needed.
 * @param {import("./settings.mjs").Settings} settings
 * @returns {Promise<import("./summary.mjs").ServiceReport>}
 */
export async function ensureNats(settings) {
  const { host, port } = parseEndpoint(settings.natsUrl, DEFAULT_PORT);
  const where = formatHostPort(host, port);

  const running = await readServerInfo(host, port);
  if (running) {
    reportRunning(running, where);
    return { name: STEP, address: settings.natsUrl, state: "already running" };
  }
  if (await acceptsTcp(host, port)) {
    throw new ProvisionError(
      STEP,
      `${where} accepts connections but does not speak NATS`,
      "free the port or point NATS_URL elsewhere",
    );
  }
  if (!isLoopback(host)) {
    throw new ProvisionError(
      STEP,
      `not reachable at ${where}`,
      "start that server, or unset NATS_URL to use a local one",
    );
  }

  const binary = which("nats-server") ?? installServer(settings);
  // The package may have started its own service on the default port.
  const afterInstall = await readServerInfo(host, port);
  if (afterInstall) {
    reportRunning(afterInstall, where);
    return { name: STEP, address: settings.natsUrl, state: "already running" };
  }
  return startServer(binary, settings, host, port);
}

/** @param {import("./settings.mjs").Settings} settings */
function installServer(settings) {
  aptInstall(STEP, ["nats-server"], join(settings.dataDir, "apt.log"));
  const binary = which("nats-server");
  if (!binary) throw new ProvisionError(STEP, "nats-server is still missing after apt-get install");
  return binary;
}

/**
 * @param {string} binary
 * @param {import("./settings.mjs").Settings} settings
 * @param {string} host
 * @param {number} port
 * @returns {Promise<import("./summary.mjs").ServiceReport>}
 */
async function startServer(binary, settings, host, port) {
  // A separate store per port, so a second server (e.g. NATS_URL=127.0.0.1:4333) never shares
  // JetStream files with the default one.
  const suffix = port === DEFAULT_PORT ? "" : `-${port}`;
  const storeDir = join(settings.dataDir, `nats${suffix}`);
  const logFile = join(settings.dataDir, `nats-server${suffix}.log`);
  mkdirSync(storeDir, { recursive: true });
  const listen = host === "localhost" ? "127.0.0.1" : host;
  const args = [
    "-a",
    listen,
    "-p",
    String(port),
    "-js",
    "-sd",
    storeDir,
    "-P",
    join(storeDir, "nats-server.pid"),
  ];

  act(STEP, `starting ${binary} on ${formatHostPort(listen, port)} with JetStream (log: ${logFile})`);
  const server = spawnDetached(binary, args, { logFile });
  const result = await waitUntil(() => readServerInfo(host, port), {
    timeoutMs: READY_TIMEOUT_MS,
    exited: server.exited,
  });
  if (!result.ready) {
    throw new ProvisionError(STEP, `nats-server ${result.reason}`, tail(logFile));
  }
  ok(STEP, `started nats-server ${result.value.version ?? ""} (pid ${server.pid}), store ${storeDir}`);
  return { name: STEP, address: settings.natsUrl, state: `started (pid ${server.pid})`, logFile };
}

/**
 * @param {{ version?: string, jetstream?: boolean }} info
 * @param {string} where
 */
function reportRunning(info, where) {
  ok(STEP, `reachable at ${where} (nats-server ${info.version ?? "?"})`);
  if (info.jetstream !== true) {
    warn(
      STEP,
      "JetStream is not enabled on that server: async invocations and queue triggers need it (run it with -js)",
    );
  }
}

/**
 * A NATS server greets every client with `INFO {json}`; reading it tells us the port really is
 * NATS and whether JetStream is on, without a client library.
 * @param {string} host
 * @param {number} port
 * @returns {Promise<{ version?: string, jetstream?: boolean } | undefined>}
 */
export function readServerInfo(host, port) {
  return withTcpConnection({ host, port, fallback: undefined }, (socket, done) => {
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => {
      buffer += chunk;
      const end = buffer.indexOf("\r\n");
      if (end === -1) return;
      const match = /^INFO\s+(\{.*\})\s*$/.exec(buffer.slice(0, end));
      try {
        done(match ? JSON.parse(match[1]) : undefined);
      } catch {
        done(undefined);
      }
    });
  });
}
