import type { FrameFields, FrameWriter } from "./frame-channel.ts";
import type { FromHost, InvokeMessage, ToHost, WireResult } from "./host-protocol.ts";

/**
 * How the host-protocol messages are laid out in frames. Invocations and results, the per-request
 * traffic, are written field by field with the body as raw bytes; the rare control messages
 * (init, evict, probe, logs after the response, limit events) are one JSON string.
 */

export const FRAME = {
  json: 1,
  invoke: 2,
  result: 3,
  needCode: 4,
} as const;

/** Joins header names and values with NUL; a pair that contains NUL (invalid in HTTP) is dropped. */
export function flattenHeaders(pairs: Iterable<readonly [string, string]>): string {
  let out = "";
  for (const [name, value] of pairs) {
    if (name.includes("\0") || value.includes("\0")) continue;
    out += out === "" ? `${name}\0${value}` : `\0${name}\0${value}`;
  }
  return out;
}

/** The inverse of flattenHeaders. */
export function headerPairsOf(flat: string): [string, string][] {
  if (flat === "") return [];
  const parts = flat.split("\0");
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) pairs.push([parts[i] ?? "", parts[i + 1] ?? ""]);
  return pairs;
}

export function writeJson(writer: FrameWriter, message: ToHost | FromHost): void {
  writer.begin(FRAME.json, 0).str(JSON.stringify(message)).end();
}

export function readJson<T extends ToHost | FromHost>(fields: FrameFields): T {
  return JSON.parse(fields.str()) as T;
}

export function writeInvoke(writer: FrameWriter, message: InvokeMessage): void {
  const { limits, request } = message;
  writer
    .begin(FRAME.invoke, message.id)
    .str(message.key)
    .str(message.versionId)
    .str(message.functionName)
    .u32(message.version)
    .u32(limits.memoryMb)
    .u32(limits.cpuMs)
    .u32(limits.timeoutMs)
    .u32(limits.maxBodyBytes)
    .u8(limits.egress ? 1 : 0)
    .str(request.invocationId)
    .str(request.trigger)
    .str(request.method)
    .str(request.url)
    .str(request.headers)
    .f64(request.deadline)
    .bytes(request.body);
  if (message.code === undefined) writer.u8(0);
  else
    writer
      .u8(1)
      .str(message.code)
      .str(JSON.stringify(message.env ?? {}))
      .str(message.handlerShape ?? "");
  writer.end();
}

export function readInvoke(id: number, f: FrameFields): InvokeMessage {
  const message: InvokeMessage = {
    t: "invoke",
    id,
    key: f.str(),
    versionId: f.str(),
    functionName: f.str(),
    version: f.u32(),
    limits: {
      memoryMb: f.u32(),
      cpuMs: f.u32(),
      timeoutMs: f.u32(),
      maxBodyBytes: f.u32(),
      egress: f.u8() === 1,
    },
    request: {
      invocationId: f.str(),
      trigger: f.str(),
      method: f.str(),
      url: f.str(),
      headers: f.str(),
      deadline: f.f64(),
      body: f.bytes(),
    },
  };
  if (f.u8() === 1) {
    message.code = f.str();
    message.env = JSON.parse(f.str()) as Record<string, string>;
    const shape = f.str();
    if (shape !== "") message.handlerShape = shape;
  }
  return message;
}

const COLD = 1;
const EXTRA = 2;

/** Status, counters, usage and headers as fields; error and logs (rare) as JSON; the body last, raw. */
export function writeResult(
  writer: FrameWriter,
  id: number,
  result: WireResult,
  warm: number,
  spare: number,
): void {
  const extra = result.error !== undefined || result.logs.length > 0;
  writer
    .begin(FRAME.result, id)
    .u16(result.status)
    .u8((result.cold ? COLD : 0) | (extra ? EXTRA : 0))
    .u32(warm)
    .u32(spare)
    .f64(result.cpuMs ?? -1)
    .f64(result.heapBytes ?? -1)
    .str(result.headers);
  if (extra) writer.str(JSON.stringify({ error: result.error, logs: result.logs }));
  if (typeof result.body === "string") writer.str(result.body);
  else writer.bytes(result.body);
  writer.end();
}

export function readResult(f: FrameFields): { result: WireResult; warm: number; spare: number } {
  const status = f.u16();
  const flags = f.u8();
  const warm = f.u32();
  const spare = f.u32();
  const cpuMs = f.f64();
  const heapBytes = f.f64();
  const headers = f.str();
  const extra = flags & EXTRA ? (JSON.parse(f.str()) as Pick<WireResult, "error" | "logs">) : null;
  const body = f.bytes() ?? new Uint8Array(0);
  const result: WireResult = { status, headers, body, cold: (flags & COLD) !== 0, logs: extra?.logs ?? [] };
  if (extra?.error) result.error = extra.error;
  if (cpuMs >= 0) result.cpuMs = cpuMs;
  if (heapBytes >= 0) result.heapBytes = heapBytes;
  return { result, warm, spare };
}
