/**
 * The autoscaler of `npm start`, in a worker thread of the launcher's process: it proxies every
 * container invocation (NATS request in, HTTP to the container out, record and logs) and on the
 * gateway's event loop that work halved the throughput of both. It has its own NATS connection and
 * reaches the embedded database through a port of the PGlite thread (PostgreSQL by its URL).
 * Messages: start-autoscaler-thread.ts.
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { loadAutoscalerConfig, start } from "@kumo/autoscaler";
import { type DatabaseHandle, openSharedDatabase } from "@kumo/db";
import type { AutoscalerThreadData, AutoscalerThreadMessage } from "./start-autoscaler-thread.ts";

const data = workerData as AutoscalerThreadData;
const port = parentPort as MessagePort;
const say = (line: string) => port.postMessage({ kind: "log", line } satisfies AutoscalerThreadMessage);
let database: DatabaseHandle | undefined;
try {
  database = data.databasePort ? openSharedDatabase(data.databasePort, data.databaseLocation) : undefined;
  const autoscaler = await start(loadAutoscalerConfig(data.env), {
    log: say,
    ...(database ? { database } : {}),
  });
  port.on("message", async (message: "stop") => {
    if (message !== "stop") return;
    await autoscaler
      .stop()
      .catch((error: unknown) => say(`stopping the autoscaler failed: ${String(error)}`));
    await database?.close().catch(() => {});
    port.postMessage({ kind: "stopped" } satisfies AutoscalerThreadMessage);
    port.close();
  });
  port.postMessage({ kind: "started", url: autoscaler.url } satisfies AutoscalerThreadMessage);
} catch (error) {
  await database?.close().catch(() => {});
  port.postMessage({
    kind: "failed",
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  } satisfies AutoscalerThreadMessage);
  port.close();
}
