// A PostgreSQL reachability check that speaks just enough of the wire protocol (StartupMessage
// and the first reply) to tell "down" from "up but no such database" from "wants a password",
// with no client library: this runs before `npm install`.
import { withTcpConnection } from "./net.mjs";

const PROTOCOL_3_0 = 196608;
const AUTH_OK = 0;

/**
 * @typedef {object} PostgresTarget
 * @property {string} host
 * @property {number} port
 * @property {string} user
 * @property {string} password
 * @property {string} database
 */

/**
 * @typedef {"unreachable" | "ready" | "password" | "no-database" | "starting" | "rejected"} ProbeState
 * `password`: the server asks for one; whether ours is right is left to the real client.
 */

/**
 * @param {string} url postgres://user[:password]@host[:port]/database
 * @returns {PostgresTarget}
 */
export function parsePostgresUrl(url) {
  const parsed = new URL(url);
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost",
    port: parsed.port ? Number(parsed.port) : 5432,
    user: decodeURIComponent(parsed.username) || "postgres",
    password: decodeURIComponent(parsed.password),
    database:
      decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username) || "postgres",
  };
}

/** The URL with its password masked, for output. @param {string} url */
export function redactUrl(url) {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/**
 * @param {PostgresTarget} target
 * @returns {Promise<{ state: ProbeState, message?: string }>}
 */
export function probePostgres(target) {
  return withTcpConnection(
    {
      host: target.host,
      port: target.port,
      timeoutMs: 3000,
      fallback: { state: /** @type {ProbeState} */ ("unreachable") },
    },
    (socket, done) => {
      let received = Buffer.alloc(0);
      socket.on("data", (chunk) => {
        received = Buffer.concat([received, chunk]);
        for (let message = nextMessage(received); message; message = nextMessage(received)) {
          received = received.subarray(message.size);
          const result = classify(message);
          if (!result) continue;
          // Say goodbye properly so the server does not log a dropped connection.
          if (result.state === "ready") socket.write(terminateMessage(), () => done(result));
          else done(result);
          return;
        }
      });
      socket.write(startupMessage(target.user, target.database));
    },
  );
}

/**
 * What one server message says about the connection, or undefined to keep reading. With trust
 * authentication AuthenticationOk comes first and a missing role or database is reported only
 * after it, so "ready" means ReadyForQuery.
 * @param {{ type: string, body: Buffer }} message
 * @returns {{ state: ProbeState, message?: string } | undefined}
 */
function classify({ type, body }) {
  if (type === "R") return body.readInt32BE(0) === AUTH_OK ? undefined : { state: "password" };
  if (type === "Z") return { state: "ready" };
  if (type === "S" || type === "K" || type === "N") return undefined;
  if (type === "E") {
    const fields = errorFields(body);
    const code = fields.C ?? "";
    const text = fields.M ?? "unknown error";
    if (code === "3D000") return { state: "no-database", message: text };
    if (code === "57P03") return { state: "starting", message: text };
    return { state: "rejected", message: `${text} (${code})` };
  }
  return { state: "rejected", message: `unexpected reply '${type}' to the startup message` };
}

/**
 * The first complete message in `buffer`: type byte, Int32 length (including itself), body.
 * @param {Buffer} buffer
 */
function nextMessage(buffer) {
  if (buffer.length < 5) return undefined;
  const length = buffer.readInt32BE(1);
  if (buffer.length < 1 + length) return undefined;
  return { type: String.fromCharCode(buffer[0]), body: buffer.subarray(5, 1 + length), size: 1 + length };
}

/**
 * ErrorResponse body: (field-type byte, cstring)* terminated by a zero byte.
 * @param {Buffer} body
 * @returns {Record<string, string>}
 */
function errorFields(body) {
  /** @type {Record<string, string>} */
  const fields = {};
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const type = String.fromCharCode(body[offset]);
    const end = body.indexOf(0, offset + 1);
    if (end === -1) break;
    fields[type] = body.toString("utf8", offset + 1, end);
    offset = end + 1;
  }
  return fields;
}

/** @param {string} user @param {string} database */
function startupMessage(user, database) {
  const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`, "utf8");
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + params.length, 0);
  header.writeInt32BE(PROTOCOL_3_0, 4);
  return Buffer.concat([header, params]);
}

function terminateMessage() {
  const message = Buffer.alloc(5);
  message.write("X", 0);
  message.writeInt32BE(4, 1);
  return message;
}
