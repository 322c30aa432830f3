import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from "kysely";
import type { ThreadReply, ThreadRequest } from "./pglite-thread-protocol.ts";

type Outgoing = ThreadRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/**
 * One client of the PGlite thread (pglite-thread.mjs) over a MessagePort: statements are sent at
 * once and the thread runs them in arrival order, so concurrent queries pipeline instead of waiting
 * for each other's round trips as a client-side lock made them.
 */
export class PGlitePort {
  readonly #port: MessagePort;
  readonly #waiting = new Map<number, { resolve(reply: ThreadReply): void; reject(error: Error): void }>();
  #nextId = 1;
  #nextTx = 1;
  #closed = false;

  constructor(port: MessagePort) {
    this.#port = port;
    port.on("message", (reply: ThreadReply) => {
      const waiter = this.#waiting.get(reply.id);
      if (!waiter) return;
      this.#waiting.delete(reply.id);
      waiter.resolve(reply);
    });
    // Nothing waits on an idle port: it must not keep the process alive.
    port.unref();
  }

  newTx(): number {
    return this.#nextTx++;
  }

  async send(message: Outgoing): Promise<{ rows: unknown[]; affectedRows?: number | undefined }> {
    if (this.#closed) throw new Error("the embedded database is closed");
    const id = this.#nextId++;
    const reply = await new Promise<ThreadReply>((resolve, reject) => {
      if (this.#waiting.size === 0) this.#port.ref();
      this.#waiting.set(id, { resolve, reject });
      this.#port.postMessage({ ...message, id });
    });
    if (this.#waiting.size === 0) this.#port.unref();
    if ("error" in reply) throw Object.assign(new Error(String(reply.error.message)), reply.error);
    return reply;
  }

  /** Fails what still waits (the thread is gone) and stops listening. */
  fail(error: Error): void {
    this.#closed = true;
    for (const waiter of this.#waiting.values()) waiter.reject(error);
    this.#waiting.clear();
    this.#port.close();
  }
}

/** Starts the PGlite thread on `dir`; resolves once the database is open. */
export async function startPGliteThread(dir: string): Promise<{ worker: Worker; client: PGlitePort }> {
  const worker = new Worker(new URL("./pglite-thread.mjs", import.meta.url), { workerData: { dir } });
  const { port1, port2 } = new MessageChannel();
  const client = new PGlitePort(port1);
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    worker.once("error", onError);
    worker.once("message", () => {
      worker.off("error", onError);
      resolve();
    });
  });
  worker.postMessage({ op: "attach", port: port2 } satisfies ThreadRequest, [port2]);
  worker.on("error", (error) => client.fail(error));
  worker.once("exit", () => client.fail(new Error("the embedded database thread exited")));
  return { worker, client };
}

/** A new client port for another thread (transfer it; the thread serves it like its first). */
export function shareClientPort(worker: Worker): MessagePort {
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ op: "attach", port: port2 } satisfies ThreadRequest, [port2]);
  return port1;
}

/** Kysely over a PGlite thread client. */
export class PGlitePortDialect implements Dialect {
  readonly #client: PGlitePort;

  constructor(client: PGlitePort) {
    this.#client = client;
  }

  createAdapter() {
    return new PostgresAdapter();
  }

  createDriver(): Driver {
    const client = this.#client;
    return {
      async init() {},
      async acquireConnection() {
        return new PortConnection(client);
      },
      async beginTransaction(connection) {
        await (connection as PortConnection).begin();
      },
      async commitTransaction(connection) {
        await (connection as PortConnection).end("commit");
      },
      async rollbackTransaction(connection) {
        await (connection as PortConnection).end("rollback");
      },
      async releaseConnection() {},
      async destroy() {},
    };
  }

  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }

  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

class PortConnection implements DatabaseConnection {
  readonly #client: PGlitePort;
  #tx: number | undefined;

  constructor(client: PGlitePort) {
    this.#client = client;
  }

  async begin(): Promise<void> {
    const tx = this.#client.newTx();
    await this.#client.send({ op: "begin", tx });
    this.#tx = tx;
  }

  async end(op: "commit" | "rollback"): Promise<void> {
    const tx = this.#tx;
    if (tx === undefined) return;
    this.#tx = undefined;
    await this.#client.send({ op, tx });
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.#client.send({
      op: "query",
      sql: compiled.sql,
      params: [...compiled.parameters],
      tx: this.#tx,
    });
    return result.affectedRows === undefined
      ? { rows: result.rows as R[] }
      : { rows: result.rows as R[], numAffectedRows: BigInt(result.affectedRows) };
  }

  // biome-ignore lint/correctness/useYield: streaming is not supported by PGlite; kysely only calls this for .stream()
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("streaming queries are not supported on embedded PGlite");
  }
}
