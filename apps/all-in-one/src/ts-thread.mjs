// Entry of the launcher's worker threads: a worker does not inherit the TypeScript loader that
// `node --import tsx` registered on the main thread, so it registers tsx's itself before it loads
// its TypeScript module (workerData.entry).
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
