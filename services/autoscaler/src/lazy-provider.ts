import type {
  CallerSignal,
  CapacityProvider,
  DeployedVersion,
  InvocationRequest,
  InvocationResult,
  Runtime,
} from "@kumo/core";
import { errorResult } from "@kumo/core";

export interface LazyProviderOptions {
  name: string;
  supports(runtime: Runtime): boolean;
  /** Starts the real provider; called once, on the first invocation (a failure stands). */
  load(): Promise<CapacityProvider>;
}

/**
 * A provider started on first use (the isolate hosts of a node that may never run an edge
 * function). A provider that cannot start answers FN_008.
 */
export class LazyProvider implements CapacityProvider {
  readonly name: string;
  readonly #options: LazyProviderOptions;
  #loaded: Promise<CapacityProvider> | undefined;

  constructor(options: LazyProviderOptions) {
    this.name = options.name;
    this.#options = options;
  }

  supports(runtime: Runtime): boolean {
    return this.#options.supports(runtime);
  }

  async invoke(
    target: DeployedVersion,
    request: InvocationRequest,
    signal?: CallerSignal,
  ): Promise<InvocationResult> {
    let provider: CapacityProvider;
    try {
      provider = await this.#load();
    } catch (error) {
      return errorResult({ code: "FN_008", message: `cannot run ${this.name} functions: ${String(error)}` });
    }
    return provider.invoke(target, request, signal);
  }

  async evict(versionId: string): Promise<void> {
    const provider = await this.#loaded?.catch(() => undefined);
    await provider?.evict?.(versionId);
  }

  async stop(): Promise<void> {
    const provider = await this.#loaded?.catch(() => undefined);
    await provider?.stop();
  }

  #load(): Promise<CapacityProvider> {
    this.#loaded ??= this.#options.load();
    return this.#loaded;
  }
}
