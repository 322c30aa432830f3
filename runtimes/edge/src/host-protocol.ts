import type { ErrorBody, FunctionLogLine } from "@kumo/core";

/**
 * Messages between the provider (gateway process) and an isolate-host process. They travel as
 * binary frames over a unix socketpair (frame-channel.ts, encoded by wire-codec.ts): invocations
 * and results field by field with raw body bytes, the rare control messages as JSON.
 */

/** Limits of one function version, resolved from its FunctionConfig against the platform maxima. */
export interface IsolateLimits {
  memoryMb: number;
  cpuMs: number;
  timeoutMs: number;
  maxBodyBytes: number;
  egress: boolean;
}

export interface FetchPolicy {
  /** Lets functions reach loopback, private, link-local and metadata addresses. Off by default. */
  allowPrivateAddresses: boolean;
  /** Host names exempt from the private-address refusal (exact, or "*.suffix"). */
  allowedHosts: string[];
  maxSubrequests: number;
  subrequestTimeoutMs: number;
  maxResponseBytes: number;
  maxRedirects: number;
}

export interface HostSettings {
  bootstrap: string;
  maxIsolates: number;
  idleTtlMs: number;
  spareIsolates: number;
  spareMemoryMb: number;
  fetch: FetchPolicy;
}

export interface WireRequest {
  invocationId: string;
  trigger: string;
  method: string;
  url: string;
  /** Names and values alternating, joined by NUL (which neither may contain): one string crosses cheaply. */
  headers: string;
  body: Uint8Array | null;
  deadline: number;
}

export interface InvokeMessage {
  t: "invoke";
  id: number;
  key: string;
  versionId: string;
  functionName: string;
  version: number;
  limits: IsolateLimits;
  request: WireRequest;
  /** Sent only after the host answered `need-code` for this key. */
  code?: string;
  env?: Record<string, string>;
  /** kumo.json's handlerShape, sent with the code ("" or absent: detected from the module). */
  handlerShape?: string;
}

/** What a cold start needs of a version beyond its limits: loaded by the provider on `need-code`. */
export interface FunctionCode {
  /** The stored script: bundle plus source map (edge-script.ts). */
  code: string;
  env: Record<string, string>;
  handlerShape?: string | undefined;
}

export type ToHost =
  | { t: "init"; settings: HostSettings }
  | InvokeMessage
  | { t: "evict"; versionId: string }
  | { t: "probe"; id: number };

export interface WireResult {
  status: number;
  /** Names and values alternating, joined by NUL, as in WireRequest. */
  headers: string;
  /** A string body is encoded to UTF-8 only when it is written to the channel. */
  body: Uint8Array | string;
  error?: ErrorBody;
  cold: boolean;
  logs: FunctionLogLine[];
  /** CPU ms the isolate spent during the invocation (absent when it did not complete normally). */
  cpuMs?: number;
  /** The isolate's heap bytes, sampled at most once a second. */
  heapBytes?: number;
}

export type FromHost =
  | { t: "ready" }
  | { t: "need-code"; id: number }
  | { t: "result"; id: number; result: WireResult; warm: number; spare: number }
  | { t: "late-logs"; invocationId: string; logs: FunctionLogLine[] }
  | { t: "limit"; versionId: string; code: string; message: string }
  | { t: "probe"; id: number; rss: number; heapBytes: number[] };
