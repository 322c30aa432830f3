import { cpus } from "node:os";
import type { FunctionLogLine } from "@kumo/core";
import type { FetchPolicy } from "./host-protocol.ts";

/** Options of the edge provider; every field has a default sized for a small machine. */
export interface EdgeProviderOptions {
  /** Isolate-host processes. Default: 1 per 2 CPUs, at least 1 (measured: see bench/edge.bench.ts). */
  hosts?: number;
  /** Warm isolates kept per host (LRU). Default 500. */
  maxIsolatesPerHost?: number;
  /** A warm isolate unused this long is disposed. Default 5 minutes. */
  idleTtlMs?: number;
  /** Pre-built isolates (bootstrap evaluated, no tenant code) kept per host for cold starts. Default 2. */
  spareIsolates?: number;
  /** Extra node flags of the host processes (KUMO_EDGE_HOST_NODE_ARGS), e.g. `--cpu-prof`. */
  hostNodeArgs?: readonly string[];
  /** Outbound fetch() policy. */
  fetch?: Partial<FetchPolicy>;
  /** Console lines a function logs from ctx.waitUntil work after its response was sent. */
  onLateLogs?: (invocationId: string, logs: FunctionLogLine[]) => void;
  /** A function version hit a limit (FN_002/FN_003/...); its isolate was disposed. For records/metrics. */
  onLimit?: (versionId: string, code: string, message: string) => void;
}

export interface ResolvedEdgeOptions {
  hosts: number;
  maxIsolatesPerHost: number;
  idleTtlMs: number;
  spareIsolates: number;
  fetch: FetchPolicy;
}

export const DEFAULT_FETCH_POLICY: FetchPolicy = {
  allowPrivateAddresses: false,
  allowedHosts: [],
  maxSubrequests: 50,
  subrequestTimeoutMs: 10_000,
  maxResponseBytes: 10 * 1024 * 1024,
  maxRedirects: 10,
};

export function resolveEdgeOptions(options: EdgeProviderOptions): ResolvedEdgeOptions {
  return {
    hosts: Math.max(1, options.hosts ?? Math.floor(cpus().length / 2)),
    maxIsolatesPerHost: Math.max(1, options.maxIsolatesPerHost ?? 500),
    idleTtlMs: Math.max(1000, options.idleTtlMs ?? 300_000),
    spareIsolates: Math.max(0, options.spareIsolates ?? 2),
    fetch: { ...DEFAULT_FETCH_POLICY, ...options.fetch },
  };
}
