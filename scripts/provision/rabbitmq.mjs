// Tests only: a RabbitMQ broker for queue triggers on an external broker (AMQP 0-9-1).
// `npm start` never needs it; `npm test`, `npm run bench` and `kumo.mjs provision` do.
import { join } from "node:path";
import { aptInstall } from "./apt.mjs";
import { act, ok } from "./log.mjs";
import { formatHostPort, withTcpConnection } from "./net.mjs";
import { runLogged, tail, which } from "./proc.mjs";
import { ProvisionError } from "./provision-error.mjs";
import { waitUntil } from "./wait.mjs";

const STEP = "rabbitmq";
const HOST = "127.0.0.1";
const PORT = 5672;
const READY_TIMEOUT_MS = 90_000;

/**
 * Make sure a RabbitMQ broker answers AMQP on 127.0.0.1:5672 (the tests' guest/guest broker):
 * nothing to do when one does; else install Debian's rabbitmq-server if it is missing and start it
 * detached. Idempotent.
 * @param {import("./settings.mjs").Settings} settings
 * @returns {Promise<import("./summary.mjs").ServiceReport>}
 */
export async function ensureRabbitMq(settings) {
  const where = formatHostPort(HOST, PORT);
  const address = `amqp://${where}`;
  if (await speaksAmqp()) {
    ok(STEP, `reachable at ${where}`);
    return { name: STEP, address, state: "already running" };
  }
  const logFile = join(settings.dataDir, "rabbitmq.log");
  if (!which("rabbitmq-server")) aptInstall(STEP, ["rabbitmq-server"], join(settings.dataDir, "apt.log"));
  // The package may have started its own service.
  if (!(await speaksAmqp())) {
    act(STEP, `starting rabbitmq-server -detached on ${where} (log: ${logFile})`);
    if (runLogged("rabbitmq-server", ["-detached"], { logFile }) !== 0) {
      throw new ProvisionError(STEP, "rabbitmq-server -detached failed", tail(logFile));
    }
  }
  const result = await waitUntil(() => speaksAmqp(), { timeoutMs: READY_TIMEOUT_MS, intervalMs: 500 });
  if (!result.ready) throw new ProvisionError(STEP, `rabbitmq-server ${result.reason}`, tail(logFile));
  ok(STEP, `started rabbitmq-server on ${where}`);
  return { name: STEP, address, state: "started" };
}

/**
 * An AMQP 0-9-1 broker answers the protocol header with a Connection.Start method frame (type 1),
 * which tells it apart from anything else listening on the port, without a client library.
 * @returns {Promise<boolean>}
 */
function speaksAmqp() {
  return withTcpConnection({ host: HOST, port: PORT, fallback: false }, (socket, done) => {
    socket.on("data", (chunk) => done(chunk[0] === 1));
    socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]));
  });
}
