import type { ErrorBody, InvocationHead, TriggerKind } from "@kumo/core";

/**
 * The invocation plane's wire format: one NATS message = a 4-byte big-endian length, a JSON
 * description (`meta`) and raw payload bytes. Bodies stay binary (no base64), and a body larger
 * than one NATS message travels as several frames (see `maxFramePayload`).
 */

/** What the gateway sends to `subjects.invoke(versionId)` (and what async messages carry). */
export interface InvokeRequestMeta {
  k: "req";
  id: string;
  tenantId: string;
  functionId: string;
  versionId: string;
  version: number;
  /**
   * The sender's digest of env + secrets: an autoscaler whose cached copy differs reloads it.
   * Absent from senders that hold no secrets (the scheduler): the node's copy, kept current by
   * change notifications, is used.
   */
  envDigest?: string;
  trigger: TriggerKind;
  method: string;
  url: string;
  headers: Record<string, string>;
  deadline: number;
  /** Total body size; the first frame carries the first chunk. */
  bodyBytes: number;
  /** When the body did not fit: the subject to request chunk i (1-based) from, and how many there are. */
  pull?: { subject: string; chunks: number };
  /** Async only: attempts made before this message (a redriven invocation keeps counting). */
  attemptBase?: number;
  /** Async only: the body lives in the payload object store under this name. */
  payloadObject?: string;
  /** Async only: when the invocation was queued (epoch ms), for its queue wait. */
  queuedAt?: number;
  /** The trigger that fired it (cron, ...): its records name it. */
  triggerId?: string;
}

/**
 * Frames an autoscaler sends back to the request's reply subject, in order: the wire form of an
 * InvocationResult (@kumo/core), whose head travels as JSON and whose body as raw frames.
 */
export type InvokeReplyMeta =
  | (InvocationHead & {
      k: "head";
      /** The payload is the whole body. */
      end: boolean;
      /** Where the gateway publishes a cancel when its client goes away. */
      cancel?: string;
    })
  | { k: "data"; end: boolean }
  | { k: "beat"; cancel?: string }
  | (Pick<InvocationHead, "coldStart" | "queueMs"> & { k: "error"; error: ErrorBody });

export type FrameMeta = InvokeRequestMeta | InvokeReplyMeta | { k: "cancel" };

const EMPTY = new Uint8Array(0);

export function encodeFrame(meta: FrameMeta, payload: Uint8Array = EMPTY): Uint8Array {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  const out = Buffer.allocUnsafe(4 + json.byteLength + payload.byteLength);
  out.writeUInt32BE(json.byteLength, 0);
  json.copy(out, 4);
  if (payload.byteLength > 0) out.set(payload, 4 + json.byteLength);
  return out;
}

export function decodeFrame<T extends FrameMeta = FrameMeta>(
  data: Uint8Array,
): { meta: T; payload: Uint8Array } {
  if (data.byteLength < 4) throw new Error("invocation frame too short");
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const length = buf.readUInt32BE(0);
  if (4 + length > buf.byteLength) throw new Error("invocation frame truncated");
  const meta = JSON.parse(buf.toString("utf8", 4, 4 + length)) as T;
  return { meta, payload: buf.subarray(4 + length) };
}

/**
 * Bytes of body per frame: the server's max_payload (1 MiB by default) minus room for the JSON
 * description, headers and protocol overhead. Works with whatever the operator configured.
 */
export function maxFramePayload(serverMaxPayload: number | undefined): number {
  const max = serverMaxPayload && serverMaxPayload > 0 ? serverMaxPayload : 1024 * 1024;
  return Math.max(16 * 1024, max - 64 * 1024);
}
