/**
 * Entry of an isolate-host process (spawned with --no-node-snapshot by the provider, bundled to one
 * file at provider start). It owns the isolates of the function versions routed to it and talks to
 * the provider over frames on fd 3 (a unix socketpair). A V8 fatal error here costs this process only; the provider restarts it.
 */
import { createRequire } from "node:module";
import { Socket } from "node:net";
import type ivm from "isolated-vm";
import { FrameWriter, readFrames } from "../frame-channel.ts";
import type { FromHost, HostSettings, InvokeMessage, ToHost, WireResult } from "../host-protocol.ts";
import { FRAME, readInvoke, readJson, writeJson, writeResult } from "../wire-codec.ts";
import { errorResult, FunctionIsolate } from "./function-isolate.ts";
import { IsolatePool } from "./isolate-pool.ts";

const ivmPath = process.argv[2];
if (!ivmPath) {
  console.error("isolate-host: expected the isolated-vm path as argument and a channel on fd 3");
  process.exit(2);
}
const ivmModule = createRequire(import.meta.url)(ivmPath) as typeof ivm;

const channel = new Socket({ fd: 3, readable: true, writable: true });
const writer = new FrameWriter(channel);
const send = (message: FromHost) => writeJson(writer, message);
const sendResult = (id: number, result: WireResult, current: IsolatePool | null) =>
  writeResult(writer, id, result, current?.warmCount ?? 0, current?.spareCount ?? 0);

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

/** A cold start (or an isolate being rebuilt): create, then invoke. */
async function invokeCold(message: InvokeMessage, current: IsolatePool): Promise<void> {
  if (message.code === undefined && !current.hasCode(message.key)) {
    writer.begin(FRAME.needCode, message.id).end();
    return;
  }
  const created = await current.create({
    key: message.key,
    versionId: message.versionId,
    functionName: message.functionName,
    version: message.version,
    limits: message.limits,
    ...(message.code === undefined
      ? {}
      : { code: message.code, env: message.env ?? {}, handlerShape: message.handlerShape }),
  });
  if (!(created instanceof FunctionIsolate)) {
    sendResult(message.id, errorResult(created.code, created.message, true, created.details), current);
    return;
  }
  const result = await created.invoke(message.request, current.fetchLimit);
  result.cold = true;
  if (created.disposed) current.discard(created);
  sendResult(message.id, result, current);
}

function reportCrash(message: InvokeMessage, error: unknown): void {
  const text = error instanceof Error ? error.message : String(error);
  sendResult(message.id, errorResult("FN_500", `isolate host: ${text}`, false), pool);
}

function onInvoke(message: InvokeMessage): void {
  const current = pool;
  if (!current) return;
  const isolate = current.warm(message.key);
  if (!isolate) {
    invokeCold(message, current).catch((error: unknown) => reportCrash(message, error));
    return;
  }
  const result = isolate.invoke(message.request, current.fetchLimit);
  if (result instanceof Promise) {
    result.then(
      (settled) => finish(message, isolate, settled, current),
      (error: unknown) => reportCrash(message, error),
    );
  } else finish(message, isolate, result, current);
}

function finish(
  message: InvokeMessage,
  isolate: FunctionIsolate,
  result: WireResult,
  current: IsolatePool,
): void {
  if (isolate.disposed) current.discard(isolate);
  sendResult(message.id, result, current);
}

readFrames(channel, (type, id, fields) => {
  if (type === FRAME.invoke) return onInvoke(readInvoke(id, fields));
  const raw = readJson<ToHost>(fields);
  switch (raw.t) {
    case "init":
      init(raw.settings);
      return;
    case "invoke":
      return;
    case "evict":
      pool?.evictVersion(raw.versionId);
      return;
    case "probe":
      send({ t: "probe", id: raw.id, rss: process.memoryUsage.rss(), heapBytes: pool?.heapBytes() ?? [] });
      return;
  }
});

// The provider ended the channel (stop) or died: either way this host's work is over.
channel.on("close", () => {
  pool?.close();
  process.exit(0);
});
channel.on("error", () => undefined);
