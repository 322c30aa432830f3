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
 * is a Cancellation (below), which the invocation paths use instead.
 */
export interface CallerSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * A CallerSignal and its trigger in one small object, for paths that need one per invocation (the
 * gateway's watch on an HTTP response, an autoscaler's sync call): creating an AbortController
 * costs ~4 µs on Node 20 (its signal is an EventTarget) and adding a listener ~1.5 µs more, a
 * twentieth of the gateway's CPU per edge request, while listeners are few and aborts rare.
 */
export class Cancellation implements CallerSignal {
  aborted = false;
  reason: unknown;
  #listeners: (() => void)[] = [];

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** Listeners run once, on abort, in the order they were added (`once` is implied). */
  addEventListener(_type: "abort", listener: () => void): void {
    if (!this.aborted) this.#listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const at = this.#listeners.indexOf(listener);
    if (at >= 0) this.#listeners.splice(at, 1);
  }

  /** Aborts (once) with an AbortError, as AbortController.abort() does, and runs the listeners. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = new DOMException("This operation was aborted", "AbortError");
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }
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
