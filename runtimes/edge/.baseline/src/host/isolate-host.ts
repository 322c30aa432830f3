/**
 * Entry of an isolate-host process (spawned with --no-node-snapshot by the provider, bundled to one
 * file at provider start). It owns the isolates of the function versions routed to it and talks to
 * the provider over IPC. A V8 fatal error here costs this process only; the provider restarts it.
 */
import { createRequire } from "node:module";
import type ivm from "isolated-vm";
import type { FromHost, HostSettings, InvokeMessage, ToHost } from "../host-protocol.ts";
import { errorResult, FunctionIsolate } from "./function-isolate.ts";
import { IsolatePool } from "./isolate-pool.ts";

const ivmPath = process.argv[2];
if (!ivmPath || !process.send) {
  console.error("isolate-host: expected the isolated-vm path as argument and an IPC channel");
  process.exit(2);
}
const ivmModule = createRequire(import.meta.url)(ivmPath) as typeof ivm;

const send = (message: FromHost) => {
  process.send?.(message);
};

let pool: IsolatePool | null = null;

function init(settings: HostSettings): void {
  const bootstrap = FunctionIsolate.compileBootstrap(ivmModule, settings.bootstrap);
  pool = new IsolatePool(settings, bootstrap, {
    ivm: ivmModule,
    fetchPolicy: settings.fetch,
    lateLogs: (invocationId, logs) => send({ t: "late-logs", invocationId, logs }),
    violated: (isolate, code, message) => {
      pool?.discard(isolate);
      send({ t: "limit", versionId: isolate.versionId, code, message });
    },
  });
  send({ t: "ready" });
}

async function invoke(message: InvokeMessage, current: IsolatePool): Promise<void> {
  let isolate = current.warm(message.key);
  let cold = false;
  if (!isolate) {
    if (message.code === undefined && !current.hasCode(message.key)) {
      send({ t: "need-code", id: message.id });
      return;
    }
    cold = true;
    const created = await current.create({
      key: message.key,
      versionId: message.versionId,
      functionName: message.functionName,
      version: message.version,
      limits: message.limits,
      ...(message.code === undefined ? {} : { code: message.code, env: message.env ?? {} }),
    });
    if (!(created instanceof FunctionIsolate)) {
      const result = errorResult(created.code, created.message, true, created.details);
      send({ t: "result", id: message.id, result, warm: current.warmCount, spare: current.spareCount });
      return;
    }
    isolate = created;
  }
  const result = await isolate.invoke(message.request, current.fetchLimit);
  result.cold = cold;
  if (isolate.disposed) current.discard(isolate);
  send({ t: "result", id: message.id, result, warm: current.warmCount, spare: current.spareCount });
}

process.on("message", (raw: ToHost) => {
  switch (raw.t) {
    case "init":
      init(raw.settings);
      return;
    case "invoke":
      if (!pool) return;
      invoke(raw, pool).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        const result = errorResult("FN_500", `isolate host: ${message}`, false);
        send({ t: "result", id: raw.id, result, warm: pool?.warmCount ?? 0, spare: pool?.spareCount ?? 0 });
      });
      return;
    case "evict":
      pool?.evictVersion(raw.versionId);
      return;
    case "probe":
      send({ t: "probe", id: raw.id, rss: process.memoryUsage.rss(), heapBytes: pool?.heapBytes() ?? [] });
      return;
  }
});

process.on("disconnect", () => {
  pool?.close();
  process.exit(0);
});
