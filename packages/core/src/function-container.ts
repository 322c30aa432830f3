/** The unprivileged user every function container runs as (the shims' sockets belong to it). */
export const FUNCTION_USER = 10001;

export interface FunctionHostConfigOptions {
  memoryMb: number;
  /** CPU share in cores (docker NanoCpus). */
  cpus: number;
  egress: boolean;
  binds?: string[];
  /** Extra tmpfs mounts (path -> mount options) beside /tmp. */
  tmpfs?: Record<string, string>;
}

/**
 * The docker HostConfig of a function container, hardened as DESIGN.md says: read-only root, tmpfs
 * /tmp, cap-drop ALL, no-new-privileges, pids/memory/CPU limits, no network unless egress. The
 * autoscaler's instances and the builder's deploy-time load check start images the same way, so a
 * module that loads in one loads in the other.
 */
export function functionHostConfig(options: FunctionHostConfigOptions) {
  const memory = options.memoryMb * 1024 * 1024;
  return {
    ...(options.binds ? { Binds: options.binds } : {}),
    ReadonlyRootfs: true,
    Tmpfs: { "/tmp": "rw,nosuid,nodev,size=64m", ...options.tmpfs },
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    PidsLimit: 128,
    Memory: memory,
    MemorySwap: memory,
    NanoCpus: Math.round(options.cpus * 1e9),
    NetworkMode: options.egress ? "bridge" : "none",
    LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "2" } },
  };
}
