/**
 * Embedded PGlite in a worker thread of its own (started by openDatabase for `npm start`). PGlite is
 * PostgreSQL compiled to WASM and runs queries synchronously on the thread that owns it: on the
 * gateway's event loop it was a third of the busy time under invocation load (record writes,
 * metrics roll-ups), so it lives here and the services reach it through MessagePorts
 * (pglite-port-dialect.ts). Every port is one client; the thread runs one statement at a time,
 * in arrival order, and a transaction holds the database until it ends.
 */
// Plain JavaScript: a worker thread does not inherit the TypeScript loader in every way Kumo is
// run (tsx's CLI, vitest). Messages: pglite-thread-protocol.ts.
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
// pg_trgm indexes log search (migration 0012); PGlite ships it as a contrib extension.
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";

/**
 * @typedef {import("./pglite-thread-protocol.ts").ThreadRequest} ThreadRequest
 * @typedef {import("./pglite-thread-protocol.ts").ThreadReply} ThreadReply
 * @typedef {{ port: import("node:worker_threads").MessagePort, tx: string | undefined, request: ThreadRequest }} Pending
 *   `tx`: the transaction key (`<port>:<tx>`), or undefined for a statement outside a transaction.
 */

const pglite = await PGlite.create(workerData.dir, { extensions: { pg_trgm } });

/** @type {Pending[]} */
const queue = [];
/** The transaction holding the database; only its statements run until it commits or rolls back. @type {string | undefined} */
let holder;
let running = false;
let ports = 0;
let closing = false;

/** @param {import("node:worker_threads").MessagePort} port */
function attach(port) {
  const portNo = ++ports;
  port.on("message", (/** @type {ThreadRequest} */ request) => {
    if (request.op === "attach") {
      attach(request.port);
      return;
    }
    const tx = "tx" in request && request.tx !== undefined ? `${portNo}:${request.tx}` : undefined;
    queue.push({ port, tx, request });
    void drain();
  });
}

/** The next statement allowed to run: the holder's, or (with no holder) the oldest. */
/** @returns {Pending | undefined} */
function next() {
  const at = holder === undefined ? 0 : queue.findIndex((p) => p.tx === holder);
  return at < 0 ? undefined : queue.splice(at, 1)[0];
}

async function drain() {
  if (running) return;
  running = true;
  try {
    for (let pending = next(); pending; pending = next()) await run(pending);
  } finally {
    running = false;
  }
}

/** @param {Pending} pending */
async function run({ port, tx, request }) {
  /** @type {ThreadReply} */
  let reply;
  try {
    switch (request.op) {
      case "query": {
        const result = await pglite.query(request.sql, request.params);
        reply = { id: request.id, rows: result.rows, affectedRows: result.affectedRows };
        break;
      }
      case "begin":
        await pglite.exec("begin");
        holder = tx;
        reply = { id: request.id, rows: [] };
        break;
      case "commit":
      case "rollback":
        holder = undefined;
        await pglite.exec(request.op);
        reply = { id: request.id, rows: [] };
        break;
      case "close":
        if (!closing) {
          closing = true;
          await pglite.close();
        }
        reply = { id: request.id, rows: [] };
        port.postMessage(reply);
        process.exit(0);
    }
  } catch (error) {
    if (request.op === "begin") holder = undefined;
    reply = { id: request.id, error: errorFields(error) };
  }
  port.postMessage(reply);
}

/** What a PostgreSQL error carries that callers read (SQLSTATE code, constraint...), cloneable. */
/** @param {unknown} error @returns {Record<string, unknown>} */
function errorFields(error) {
  if (!(error instanceof Error)) return { message: String(error) };
  /** @type {Record<string, unknown>} */
  const fields = { message: error.message };
  for (const key of ["code", "detail", "hint", "constraint", "table", "column", "schema", "severity"]) {
    const value = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (error))[key];
    if (typeof value === "string") fields[key] = value;
  }
  return fields;
}

if (!parentPort) throw new Error("pglite-thread.mjs runs as a worker thread");
attach(parentPort);
parentPort.postMessage({ id: 0, rows: [] });
