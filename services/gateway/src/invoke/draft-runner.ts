import { randomUUID } from "node:crypto";
import {
  type CallerSignal,
  type CapacityProvider,
  type DeployedVersion,
  type FunctionConfig,
  type InvocationRequest,
  type InvocationResult,
  invalid,
  KumoError,
  runtimeFamily,
} from "@kumo/core";
import type { TokenBuckets } from "./token-buckets.ts";

/** What one draft runs: bundled code that no version holds, with its configuration and env. */
export interface Draft {
  tenantId: string;
  /** The function the draft belongs to; `POST /v1/run` drafts belong to none ("draft"). */
  functionId: string;
  functionName: string;
  config: FunctionConfig;
  code: string;
  env: Record<string, string>;
  envDigest: string;
}

export interface DraftOutcome {
  result: InvocationResult;
  durationMs: number;
}

/**
 * Runs drafts: unsaved edge code, once, in a fresh isolate that is dropped right after, with the
 * limits of its configuration. The one implementation behind the editor's "Test"
 * (`POST /v1/functions/:name/draft-runs`) and `POST /v1/run`; both take a token from the tenant's
 * bucket first (FN_007 with the wait when it is empty).
 */
export class DraftRunner {
  readonly #providers: readonly CapacityProvider[];
  readonly #buckets: TokenBuckets;

  constructor(options: { providers: readonly CapacityProvider[]; buckets: TokenBuckets }) {
    this.#providers = options.providers;
    this.#buckets = options.buckets;
  }

  /** Takes one of the tenant's draft tokens, or throws FN_007 saying when to try again. */
  admit(tenantId: string): void {
    const waitMs = this.#buckets.take(tenantId);
    if (waitMs > 0) {
      throw new KumoError(
        "FN_007",
        `too many draft runs for this tenant: try again in ${Math.ceil(waitMs / 1000)} s (KUMO_DRAFT_RATE, KUMO_DRAFT_BURST)`,
        { details: { retryAfterMs: waitMs } },
      );
    }
  }

  async run(draft: Draft, invocation: InvocationRequest, signal: CallerSignal): Promise<DraftOutcome> {
    const provider = this.#providers.find((p) => p.supports(runtimeFamily(draft.config.runtime)));
    if (!provider) {
      throw invalid(
        `this gateway runs no isolates for runtime "${draft.config.runtime}", so it cannot run drafts; deploy instead`,
      );
    }
    const draftId = `draft_${randomUUID()}`;
    const target: DeployedVersion = {
      tenantId: draft.tenantId,
      functionId: draft.functionId,
      functionName: draft.functionName,
      versionId: draftId,
      version: 0,
      runtime: runtimeFamily(draft.config.runtime),
      config: draft.config,
      sourceDigest: draftId,
      artifact: draftId,
      env: draft.env,
      envDigest: draft.envDigest,
      loadCode: async () => draft.code,
    };
    const t0 = performance.now();
    try {
      const result = await provider.invoke(target, invocation, signal);
      return { result, durationMs: Math.round((performance.now() - t0) * 1000) / 1000 };
    } finally {
      // One isolate per draft: dropped at once, so drafts never pile up warm instances.
      await provider.evict?.(draftId);
    }
  }
}
