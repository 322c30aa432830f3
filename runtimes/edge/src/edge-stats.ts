import type { HostState } from "./host-process.ts";

/** A snapshot of the edge provider, for /metrics and tests. */
export interface EdgeStats {
  hosts: {
    index: number;
    pid: number | undefined;
    state: HostState;
    inflight: number;
    warm: number;
    spare: number;
    restarts: number;
    /** Invocations the host had to ask this process for their version's code (it had dropped it). */
    codeRequests: number;
  }[];
  hostsAlive: number;
  restarts: number;
  isolatesWarm: number;
  coldStarts: number;
  invocations: number;
  limitViolations: number;
}
