import type { MessagePort } from "node:worker_threads";
import { Worker } from "node:worker_threads";

/** What the launcher hands the autoscaler thread (autoscaler-thread.ts). */
export interface AutoscalerThreadData {
  /** The autoscaler's environment (loadAutoscalerConfig reads it). */
  env: Record<string, string | undefined>;
  /** A client port of the embedded PGlite thread; absent with PostgreSQL (DATABASE_URL in env). */
  databasePort?: MessagePort | undefined;
  databaseLocation: string;
}

/** What the autoscaler thread tells the launcher. */
export type AutoscalerThreadMessage =
  | { kind: "log"; line: string }
  | { kind: "started"; url: string }
  | { kind: "failed"; message: string }
  | { kind: "stopped" };

export interface AutoscalerThread {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts the autoscaler in a worker thread; resolves once it serves, rejects with its startup error.
 */
export async function startAutoscalerThread(
  data: AutoscalerThreadData,
  log: (line: string) => void,
): Promise<AutoscalerThread> {
  const worker = new Worker(new URL("./ts-thread.mjs", import.meta.url), {
    workerData: { ...data, entry: new URL("./autoscaler-thread.ts", import.meta.url).href },
    transferList: data.databasePort ? [data.databasePort] : [],
  });
  let stopped: () => void = () => {};
  const stoppedOnce = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const url = await new Promise<string>((resolve, reject) => {
    worker.on("message", (message: AutoscalerThreadMessage) => {
      if (message.kind === "log") log(message.line);
      else if (message.kind === "started") resolve(message.url);
      else if (message.kind === "failed")
        reject(new Error(`the autoscaler did not start: ${message.message}`));
      else stopped();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      stopped();
      reject(new Error(`the autoscaler thread exited (${code}) before it started`));
    });
  });
  return {
    url,
    async stop() {
      worker.postMessage("stop");
      await stoppedOnce;
      await worker.terminate();
    },
  };
}
