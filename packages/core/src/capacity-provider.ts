import type { FunctionConfig, Runtime } from "./function-config.ts";
import type { InvocationResult } from "./invocation-result.ts";

/**
 * The seam between the gateway and whatever runs functions. The isolate host (edge) and the
 * container pools are implementations registered by name; the gateway only sees this interface.
 */

/** What a provider needs to run one version of one function. */
export interface DeployedVersion {
  tenantId: string;
  functionId: string;
  functionName: string;
  versionId: string;
  version: number;
  runtime: Runtime;
  config: FunctionConfig;
  /** Digest of the code; together with envDigest it identifies a warm instance. */
  sourceDigest: string;
  /** Built artifact reference: for edge, the bundled script's key; for containers, the image. */
  artifact: string;
  /** Loads the bundled code (edge) only when a cold instance needs it. */
  loadCode(): Promise<string>;
  /** Env vars and decrypted secrets, merged; secrets never leave the provider's process except into the function. */
  env: Record<string, string>;
  envDigest: string;
}

/** What started an invocation; "step" is a workflow step (`POST /v1/functions/:name/run`). */
export const TRIGGER_KINDS = ["http", "api", "async", "cron", "queue", "database", "event", "step"] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** One invocation, transport-neutral. Bodies are bounded (maxBodyBytes) before they get here. */
export interface InvocationRequest {
  invocationId: string;
  trigger: TriggerKind;
  method: string;
  /** Path after the function prefix, with the query string, e.g. "/users/1?x=2". */
  url: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
  /** Absolute epoch ms after which the invocation is a timeout (FN_002). */
  deadline: number;
  traceparent?: string;
}

/**
 * "The caller went away": the part of an AbortSignal a provider uses. An AbortSignal is one, and so
 * is the gateway's lighter watch on an HTTP response (`CallerGone`): creating an AbortSignal costs
 * ~4 µs on Node 20 (it is an EventTarget), a twentieth of the gateway's CPU per edge request.
 */
export interface CallerSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export interface CapacityProvider {
  /** Registered name, e.g. "edge" or "container". */
  readonly name: string;
  /** Whether this provider runs the given runtime. */
  supports(runtime: Runtime): boolean;
  invoke(
    target: DeployedVersion,
    request: InvocationRequest,
    signal?: CallerSignal,
  ): Promise<InvocationResult>;
  /**
   * False when this node holds none of the target's capacity (its share of a cluster-wide
   * concurrency limit is 0): the invocation belongs on another node. Absent: always true.
   */
  holdsCapacity?(target: DeployedVersion): boolean;
  /** Drops warm instances of a version (e.g. after env changes or when it stops receiving traffic). */
  evict?(versionId: string): Promise<void>;
  stop(): Promise<void>;
}
